// Times. The server writes each moment as <time datetime="…Z">2026-12-01
// 10:14 UTC</time> (templates/parts.html, handlers/rows.go), which reads
// right without the script; here every one is shown in the browser's own
// time zone, with the zone named, and the UTC time as its title.

// Fixed parts in a fixed order, whatever the browser's language: the
// listing's columns line up, and "GMT+9" says which zone.
const zoned = new Intl.DateTimeFormat("en-US", {
  year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "shortOffset",
});

// localTime is a moment as "2026-12-01 19:14 GMT+9" in the browser's zone.
export function localTime(date) {
  const p = {};
  for (const { type, value } of zoned.formatToParts(date)) p[type] = value;
  return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + " " + p.timeZoneName;
}

function showLocal(t) {
  const d = new Date(t.dateTime);
  if (isNaN(d.getTime())) return;
  t.textContent = localTime(d);
  t.title = d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

// timeElement is a <time> for an RFC 3339 moment, in the browser's zone.
export function timeElement(iso) {
  const t = document.createElement("time");
  t.dateTime = iso;
  showLocal(t);
  return t;
}

// localTimes shows every <time datetime> below root in the browser's zone.
export function localTimes(root = document) {
  for (const t of root.querySelectorAll("time[datetime]")) showLocal(t);
}
