// Who is signed in: the bearer token, kept in sessionStorage (this tab only,
// gone when it closes). The token's claims are read for display and routing
// only; the gateway verifies it on every call.
const KEY = "callastar.token";

export type Role = "fan" | "creator" | "admin";
export type Who = { userId: string; role: Role; expiresAt: number };

const listeners = new Set<() => void>();

function claims(token: string): Who | null {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof payload.sub !== "string" || !["fan", "creator", "admin"].includes(payload.role)) return null;
    return { userId: payload.sub, role: payload.role, expiresAt: Number(payload.exp) * 1000 };
  } catch {
    return null;
  }
}

export const session = {
  token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  who(): Who | null {
    const token = this.token();
    const who = token ? claims(token) : null;
    return who && who.expiresAt > Date.now() ? who : null;
  },
  signIn(token: string): Who | null {
    const who = claims(token);
    if (!who) return null;
    sessionStorage.setItem(KEY, token);
    listeners.forEach((listener) => listener());
    return who;
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
    listeners.forEach((listener) => listener());
  },
  /** The API said 401: the token is no longer good. */
  expire(): void {
    if (this.token()) this.signOut();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** The identity provider's hand-off: it redirects to /console/#token=<jwt>. */
export function takeTokenFromFragment(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  session.signIn(decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search);  // never left in the address bar
}
