// The signed-in person's notifications, kept live: the gateway's event stream
// (GET /api/notifications/stream, read with fetch because EventSource cannot send
// the bearer token), and while the stream is down, the API's polling contract
// (unread count every 30 s with If-None-Match; the list when it changed), trying
// the stream again at each poll.
import { api, authorizedFetch } from "./api";

export type Notification = {
  id: string; type: string; title: string; body: string; link: string | null;
  created_at: string; read_at: string | null;
};
export type FeedState = { items: Notification[]; unread: number; mode: "connecting" | "live" | "polling" };

export const SHOWN = 10;
export const POLL_MS = 30_000;

export class Feed {
  state: FeedState = { items: [], unread: 0, mode: "connecting" };
  private listeners = new Set<(state: FeedState) => void>();
  private arrivals = new Set<(item: Notification) => void>();
  private abort = new AbortController();
  private pollTimer: number | undefined;
  private etag: string | null = null;

  start(): void {
    void this.refresh();
    void this.stream();
  }

  stop(): void {
    this.abort.abort();
    clearTimeout(this.pollTimer);
  }

  subscribe(listener: (state: FeedState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with each notification that arrives live (pages refresh what it is about). */
  onArrival(listener: (item: Notification) => void): () => void {
    this.arrivals.add(listener);
    return () => this.arrivals.delete(listener);
  }

  async refresh(): Promise<void> {
    const [list, count] = await Promise.all([
      api<{ items: Notification[] }>("GET", "/api/notifications", {}, { query: { limit: SHOWN } }),
      api<{ unread: number }>("GET", "/api/notifications/unread-count"),
    ]);
    this.set({ items: list.items, unread: count.unread });
  }

  async markRead(id: string): Promise<void> {
    await api("PATCH", "/api/notifications/{notification_id}/read", { notification_id: id });
    await this.refresh();
  }

  async remove(id: string): Promise<void> {
    await api("DELETE", "/api/notifications/{notification_id}", { notification_id: id });
    await this.refresh();
  }

  async markAllRead(): Promise<void> {
    await api("PATCH", "/api/notifications/read-all");
    await this.refresh();
  }

  private set(change: Partial<FeedState>): void {
    this.state = { ...this.state, ...change };
    this.listeners.forEach((listener) => listener(this.state));
  }

  private async stream(): Promise<void> {
    clearTimeout(this.pollTimer);
    try {
      const response = await authorizedFetch("/api/notifications/stream", {
        headers: { Accept: "text/event-stream" }, signal: this.abort.signal,
      });
      this.set({ mode: "live" });
      await this.read(response.body!.pipeThrough(new TextDecoderStream()).getReader());
    } catch {
      // refused, dropped or offline: poll below
    }
    if (this.abort.signal.aborted) return;
    this.set({ mode: "polling" });
    this.pollTimer = setTimeout(() => void this.poll(), POLL_MS);
  }

  private async read(reader: ReadableStreamDefaultReader<string>): Promise<void> {
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        this.dispatch(block);
      }
    }
  }

  private dispatch(block: string): void {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;  // keep-alive comment
      const [field, ...rest] = line.split(":");
      const value = rest.join(":").replace(/^ /, "");
      if (field === "event") event = value;
      if (field === "data") data.push(value);
    }
    // Only the two events the API documents; the keep-alive comment comes with an empty data line.
    if (event !== "unread" && event !== "notification") return;
    const payload = JSON.parse(data.join("\n"));
    if (event === "unread") {
      // the first event of every (re)connection: what was missed meanwhile is in the list
      this.set({ unread: payload.unread });
      void this.refresh();
    } else if (event === "notification") {
      const item = payload.notification as Notification;
      const items = [item, ...this.state.items.filter((known) => known.id !== item.id)].slice(0, SHOWN);
      this.set({ items, unread: payload.unread });
      this.arrivals.forEach((listener) => listener(item));
    }
  }

  private async poll(): Promise<void> {
    try {
      const response = await authorizedFetch("/api/notifications/unread-count",
        { headers: this.etag ? { "If-None-Match": this.etag } : {} });
      if (response.status === 200) {
        this.etag = response.headers.get("ETag");
        await this.refresh();
      }
    } catch {
      // still away: the next poll tries again
    }
    if (!this.abort.signal.aborted) void this.stream();
  }
}
