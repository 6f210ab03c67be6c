/** The bearer token the validation section's requests carry and its guarded server admits. */
export const BENCH_TOKEN = "bench-token";
