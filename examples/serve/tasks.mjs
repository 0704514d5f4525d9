// A module pool's handler for glimpse-cluster serve: it runs on one of the pool's
// threads with the job, and returns the result (a string or bytes) or throws.
export function wordCount(job) {
  const text = job.workload.toString("utf8");
  const words = text.split(/\s+/).filter(Boolean);
  job.sendStatus(1, 2); // progress, to clients that watch it
  const counts = {};
  for (const word of words) counts[word] = (counts[word] ?? 0) + 1;
  return JSON.stringify(counts);
}
