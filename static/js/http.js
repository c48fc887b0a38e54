// Requests to the bridge, and reading its answers.

// errorText reads the bridge's {"error": "..."} answer, or says what little
// is known when there is none (a proxy's page, a dropped connection).
export function errorText(status, data) {
  if (data && typeof data.error === "string" && data.error !== "") return data.error;
  if (status === 0) return "The bridge could not be reached.";
  return "The bridge answered with status " + status + ".";
}

export function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// request sends a same-origin request that wants JSON back. The bridge's
// cross-origin protection accepts it as is: the browser marks it same-origin.
// It never throws: a network failure is status 0.
export async function request(method, url, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) init.body = body;
  try {
    const res = await fetch(url, init);
    return { ok: res.ok, status: res.status, data: parseJSON(await res.text()) };
  } catch {
    return { ok: false, status: 0, data: null };
  }
}

// withQuery adds query parameters to a URL that may already have some.
export function withQuery(url, params) {
  const u = new URL(url, location.href);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.pathname + u.search;
}
