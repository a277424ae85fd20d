/* The explorer benchmark model of benchmarks/explore_bench.py (pteverify.models.scenarios.classic.counters)
 * in Promela: three processes, each incrementing its own counter K times, the invariant "no
 * counter exceeds K" checked in every state. One d_step per increment, as pteverify's one atomic
 * step, and an end label so that a finished process is a valid end state: (K+1)^3 states and
 * 3K(K+1)^2 transitions, exactly the state space of the pteverify model. */
#ifndef K
#define K 99
#endif
byte c0, c1, c2;
active proctype t0() { end: do :: d_step { c0 < K; c0++ } od }
active proctype t1() { end: do :: d_step { c1 < K; c1++ } od }
active proctype t2() { end: do :: d_step { c2 < K; c2++ } od }
ltl bounded { [] (c0 <= K && c1 <= K && c2 <= K) }
