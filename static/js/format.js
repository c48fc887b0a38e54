// Figures as the pages show them: sizes, rates, durations, counts, names.

// humanSize matches the listing's sizes (handlers/browse.go humanSize), so a
// transfer's "3.0 MiB" reads like the file's row.
export function humanSize(n) {
  if (n < 0) return "?";
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let f = n / 1024;
  let i = 0;
  while (f >= 1024 && i < units.length - 1) {
    f /= 1024;
    i++;
  }
  return (f < 10 ? f.toFixed(1) : f.toFixed(0)) + " " + units[i];
}

// humanRate always keeps one decimal: a rate changes every update, and a
// fixed width is easier to read than digits that come and go.
export function humanRate(bytesPerSecond) {
  if (bytesPerSecond < 1024) return Math.round(bytesPerSecond) + " B/s";
  const units = ["KiB/s", "MiB/s", "GiB/s", "TiB/s"];
  let f = bytesPerSecond / 1024;
  let i = 0;
  while (f >= 1024 && i < units.length - 1) {
    f /= 1024;
    i++;
  }
  return f.toFixed(1) + " " + units[i];
}

export function humanDuration(seconds) {
  const s = Math.ceil(seconds);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

// plural("file", 3) is "3 files".
export function plural(word, n) {
  return n + " " + word + (n === 1 ? "" : "s");
}

// lastSegment is the name a transfer shows: "/pub/a.iso" -> "a.iso",
// "/pub/" -> "pub".
export function lastSegment(path) {
  const parts = String(path || "").split("/").filter((p) => p !== "");
  return parts.length ? parts[parts.length - 1] : "/";
}
