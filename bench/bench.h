/* The fused-vs-unfused benchmark, shared by `actjit-bench` and
 * `actjit bench`. */
#ifndef ACTJIT_BENCH_H
#define ACTJIT_BENCH_H

/* argv[0] is the subcommand or program name.  Returns an exit status. */
int bench_main(int argc, char **argv);

#endif
