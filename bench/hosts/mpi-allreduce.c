/*
 * Open MPI's own MPI_Allreduce (doubles, MPI_SUM), the reference the
 * library's ring allreduce is measured against (bench/hosts/allreduce-runs.ts
 * builds this with mpicc into build/ and launches both the same way).
 *
 *   mpirun --host node1:2,node2:2 -np 4 build/bench-hosts/mpi-allreduce SIZE:ITERS[:WARMUP] ...
 *
 * SIZE is in bytes (a multiple of 8). For each size: WARMUP untimed calls
 * (default ITERS/10, at least 1), a barrier, then ITERS timed calls. Every
 * rank times its own loop; rank 0 prints one JSON line per size with the
 * slowest rank's mean time per call (and the fastest, for the record):
 *
 *   {"size":65536,"iters":50,"meanUs":123.4,"minRankMeanUs":120.1,"ranks":4,"check":"exact"}
 *
 * The input of rank r at element i is r + i (mod 1000), integers, so the sum
 * is exact in any order; the result of the last call is checked on every rank
 * and "check" says whether every rank got the exact sum.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double input_value(int rank, long i) { return (double)((rank + i) % 1000); }

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: mpi-allreduce SIZE:ITERS[:WARMUP] ...  (SIZE in bytes, a multiple of 8)\n");
        MPI_Finalize();
        return 2;
    }
    int status = 0;
    for (int a = 1; a < argc; a++) {
        long bytes = 0, iters = 0, warmup = -1;
        if (sscanf(argv[a], "%ld:%ld:%ld", &bytes, &iters, &warmup) < 2 || bytes < 8 || bytes % 8 != 0 || iters < 1) {
            if (rank == 0)
                fprintf(stderr, "mpi-allreduce: bad argument '%s' (want SIZE:ITERS[:WARMUP], SIZE a multiple of 8)\n", argv[a]);
            status = 2;
            break;
        }
        if (warmup < 0)
            warmup = iters / 10 > 0 ? iters / 10 : 1;
        long count = bytes / 8;
        double *in = malloc(bytes), *out = malloc(bytes);
        if (in == NULL || out == NULL) {
            fprintf(stderr, "mpi-allreduce: rank %d: out of memory for %ld bytes\n", rank, bytes);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (long i = 0; i < count; i++)
            in[i] = input_value(rank, i);
        for (long w = 0; w < warmup; w++)
            MPI_Allreduce(in, out, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (long k = 0; k < iters; k++)
            MPI_Allreduce(in, out, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        double mean_us = (MPI_Wtime() - t0) * 1e6 / (double)iters;

        int wrong = 0;
        for (long i = 0; i < count && !wrong; i++) {
            double expected = 0;
            for (int r = 0; r < size; r++)
                expected += input_value(r, i);
            wrong = out[i] != expected;
        }
        double slowest, fastest;
        int any_wrong;
        MPI_Reduce(&mean_us, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Reduce(&mean_us, &fastest, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
        MPI_Reduce(&wrong, &any_wrong, 1, MPI_INT, MPI_LOR, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            printf("{\"size\":%ld,\"iters\":%ld,\"warmup\":%ld,\"meanUs\":%.3f,\"minRankMeanUs\":%.3f,\"ranks\":%d,\"check\":\"%s\"}\n",
                   bytes, iters, warmup, slowest, fastest, size, any_wrong ? "WRONG" : "exact");
            fflush(stdout);
        }
        if (any_wrong)
            status = 1;
        free(in);
        free(out);
    }
    MPI_Finalize();
    return status;
}
