#!/usr/bin/python3
"""The peer side of bench/dense_bench.sh: data generation (numpy, fixed seed),
FAISS IndexFlatIP (exact, 1 and 2 threads) and hnswlib (same M and
ef_construction, ef sweep), with result ids saved for comparison.

usage: dense_peer.py gen DIR N NQ DIM SEED
       dense_peer.py flat DIR DIM K [single_queries]
       dense_peer.py hnsw DIR DIM K M EFC EF1,EF2,...
       dense_peer.py compare A.i64 B.i64 K DIR
"""
import sys, time, statistics
import numpy as np

def load(path, dim):
    return np.fromfile(path, dtype=np.float32).reshape(-1, dim)

def main():
    mode = sys.argv[1]
    if mode == "gen":
        d, n, nq, dim, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
        rng = np.random.default_rng(seed)
        for name, m in (("base", n), ("queries", nq)):
            x = rng.standard_normal((m, dim), dtype=np.float32)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            x.astype(np.float32).tofile(f"{d}/{name}.f32")
        return
    if mode == "compare":
        a = np.fromfile(sys.argv[2], dtype=np.int64); b = np.fromfile(sys.argv[3], dtype=np.int64)
        k = int(sys.argv[4]); d = sys.argv[5]
        a = a.reshape(-1, k); b = b.reshape(-1, k)
        same_rank = (a == b).all(axis=1).sum()
        same_set = sum(len(set(x) & set(y)) == k for x, y in zip(a, b))
        overlap = sum(len(set(x) & set(y)) for x, y in zip(a, b)) / a.size
        # where sets differ, is it a tie within float rounding?
        base = np.memmap(f"{d}/base.f32", dtype=np.float32, mode="r").reshape(-1, int(sys.argv[6]))
        q = load(f"{d}/queries.f32", int(sys.argv[6]))
        ties = 0
        for i in range(len(a)):
            if set(a[i]) != set(b[i]):
                sa = np.sort(base[a[i]].astype(np.float64) @ q[i].astype(np.float64))
                sb = np.sort(base[b[i]].astype(np.float64) @ q[i].astype(np.float64))
                if np.abs(sa - sb).max() < 1e-5: ties += 1
        print(f"compare: {len(a)} queries: identical ranked lists {same_rank}, identical top-{k} sets {same_set}, "
              f"id overlap {overlap:.5f}, differing sets explained by float ties {ties}")
        return
    import faiss
    d, dim, k = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    xb = load(f"{d}/base.f32", dim); xq = load(f"{d}/queries.f32", dim)
    if mode == "flat":
        single = int(sys.argv[5]) if len(sys.argv) > 5 else 100
        index = faiss.IndexFlatIP(dim); index.add(xb)
        for t in (1, 2):
            faiss.omp_set_num_threads(t)
            index.search(xq, k)  # warm-up
            times, cpus = [], []
            for _ in range(3):
                t0 = time.perf_counter(); c0 = time.process_time(); D, I = index.search(xq, k)
                times.append(time.perf_counter() - t0); cpus.append(time.process_time() - c0)
            med, cmed = statistics.median(times), statistics.median(cpus)
            print(f"faiss IndexFlatIP batch  n={len(xb)} threads={t}: {len(xq)/med:.1f} queries/s wall, {len(xq)/cmed:.1f} queries/cpu-s (median of 3: {med:.3f} s wall, {cmed:.3f} s cpu)", flush=True)
            I.astype(np.int64).tofile(f"{d}/faiss_t{t}.i64")
            times, cpus = [], []
            for _ in range(3):
                t0 = time.perf_counter(); c0 = time.process_time()
                for i in range(single): index.search(xq[i:i+1], k)
                times.append(time.perf_counter() - t0); cpus.append(time.process_time() - c0)
            med, cmed = statistics.median(times), statistics.median(cpus)
            print(f"faiss IndexFlatIP single n={len(xb)} threads={t}: {single/med:.1f} queries/s wall, {single/cmed:.1f} queries/cpu-s ({single} queries one at a time)", flush=True)
    elif mode == "hnsw":
        import hnswlib
        M, efc, efs = int(sys.argv[5]), int(sys.argv[6]), [int(x) for x in sys.argv[7].split(",")]
        exact = np.fromfile(f"{d}/faiss_t1.i64", dtype=np.int64).reshape(-1, k)
        p = hnswlib.Index(space="ip", dim=dim)
        p.init_index(max_elements=len(xb), M=M, ef_construction=efc, random_seed=42)
        p.set_num_threads(1)  # idx builds on one thread (deterministic graph)
        t0 = time.perf_counter(); c0 = time.process_time(); p.add_items(xb, np.arange(len(xb)))
        bt_s = time.perf_counter() - t0; bc = time.process_time() - c0
        print(f"hnswlib build n={len(xb)} M={M} efC={efc}: {bt_s:.1f} s wall, {bc:.1f} s cpu (1 thread)", flush=True)
        p.set_num_threads(1)
        for ef in efs:
            p.set_ef(ef)
            t0 = time.perf_counter(); c0 = time.process_time()
            L = np.stack([p.knn_query(xq[i:i+1], k)[0][0] for i in range(len(xq))])  # one query per call, like idx
            times = [time.perf_counter() - t0]; cpu = time.process_time() - c0
            rec = sum(len(set(L[i]) & set(exact[i])) for i in range(len(xq))) / exact.size
            print(f"hnswlib ef={ef}: recall@{k} {rec:.4f}, {len(xq)/statistics.median(times):.1f} queries/s wall, {len(xq)/cpu:.1f} queries/cpu-s (1 thread, one query per call)", flush=True)

main()
