// Small pieces every page uses: money, dates, loading, problems, pending actions, modals.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import type { Feed } from "./feed";
import { formatMoney } from "./money";

export function Money({ minor, currency }: { minor: number | null | undefined; currency: string }) {
  return <span class="money">{formatMoney(minor, currency)}</span>;
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span>—</span>;
  const date = new Date(at);
  return <time dateTime={at}>{date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}</time>;
}

export function Status({ value }: { value: string }) {
  return <span class={`status status-${value.toLowerCase()}`}>{value.replace(/_/g, " ")}</span>;
}

/** An RFC 9457 problem, shown as the API said it. */
export function ProblemView({ error }: { error: unknown }) {
  if (!error) return null;
  if (error instanceof ApiError) {
    const { title, detail, reason } = error.problem;
    return (
      <div class="problem" role="alert">
        <strong>{title || `Error ${error.status}`}</strong>
        {detail && <p>{detail}</p>}
        <small>HTTP {error.status}{reason ? ` · ${reason}` : ""}</small>
      </div>
    );
  }
  return <div class="problem" role="alert"><strong>Something went wrong</strong><p>{String(error)}</p></div>;
}

export type Loaded<T> = { data: T | undefined; error: unknown; loading: boolean; reload: () => Promise<void> };

/** Load on mount and whenever `deps` change; `reload` after an action. */
// A notification and the facts it speaks of (a ledger entry, a payout's status)
// are written by different services from the same event, in either order: a
// page reads again when one arrives and twice more a little later, so it ends
// up showing what the notification announced.
const SETTLE_MS = [0, 1_500, 5_000];

/** A counter that moves when a notification arrives (and as its facts settle):
 * a page's loads depend on it to refresh what it shows. */
export function useArrivals(feed: Feed): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timers = new Set<number>();
    const stop = feed.onArrival(() => {
      for (const delay of SETTLE_MS) {
        const timer = window.setTimeout(() => { timers.delete(timer); setTick((n) => n + 1); }, delay);
        timers.add(timer);
      }
    });
    return () => { stop(); timers.forEach((timer) => window.clearTimeout(timer)); };
  }, [feed]);
  return tick;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setData(await load());
      setError(undefined);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  }, deps);  // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { void reload(); }, [reload]);
  return { data, error, loading, reload };
}

export function Loading<T>({ state, children }: { state: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (state.data === undefined) {
    return state.error ? <ProblemView error={state.error} /> : <p class="muted" aria-live="polite">Loading…</p>;
  }
  return <>{state.error ? <ProblemView error={state.error} /> : null}{children(state.data)}</>;
}

/** Runs one action at a time: `pending` while it runs, the problem if it fails. */
export function useAction<A extends unknown[]>(run: (...args: A) => Promise<unknown>) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>();
  const busy = useRef(false);
  const act = async (...args: A): Promise<boolean> => {
    if (busy.current) return false;  // a double click is one action
    busy.current = true;
    setPending(true);
    setError(undefined);
    try {
      await run(...args);
      return true;
    } catch (caught) {
      setError(caught);
      return false;
    } finally {
      busy.current = false;
      setPending(false);
    }
  };
  return { act, pending, error, clear: () => setError(undefined) };
}

export function Pending({ pending, label, busyLabel, ...props }: {
  pending: boolean; label: string; busyLabel?: string; type?: "submit" | "button"; class?: string;
  onClick?: () => void; disabled?: boolean;
}) {
  return (
    <button type={props.type ?? "button"} class={props.class} onClick={props.onClick}
            disabled={pending || props.disabled} aria-busy={pending}>
      {pending ? busyLabel ?? `${label}…` : label}
    </button>
  );
}

export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const dialog = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    dialog.current?.querySelector<HTMLElement>("button, input, textarea, select, a[href]")?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
      if (event.key !== "Tab" || !dialog.current) return;
      // Keep the focus inside the dialog while it is open.
      const focusable = [...dialog.current.querySelectorAll<HTMLElement>(
        "button:not([disabled]), input, textarea, select, a[href]")];
      const first = focusable[0], last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last?.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first?.focus(); }
    };
    addEventListener("keydown", onKey);
    return () => { removeEventListener("keydown", onKey); before?.focus(); };
  }, []);
  return (
    <div class="backdrop">
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" ref={dialog}>
        <header>
          <h2 id="modal-title">{title}</h2>
          <button type="button" class="link" onClick={onClose}>Close</button>
        </header>
        {children}
      </div>
    </div>
  );
}

export function Forbidden() {
  return (
    <section>
      <h1>Not for your role</h1>
      <p role="alert">This page is for admins. Your role cannot open it; the API refuses its data too (403).</p>
    </section>
  );
}
