// The notification bell in every layout: unread badge, the last 10, read / delete
// / read all, a link to each notification's object.
import { useEffect, useRef, useState } from "preact/hooks";
import { Feed, type FeedState, type Notification } from "./feed";
import { consoleHref } from "./router";
import { ProblemView, useAction, When } from "./ui";

export function Bell({ feed }: { feed: Feed }) {
  const [state, setState] = useState<FeedState>(feed.state);
  const [open, setOpen] = useState(false);
  const [announce, setAnnounce] = useState("");
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => feed.subscribe(setState), [feed]);
  useEffect(() => feed.onArrival((item) => setAnnounce(`New notification: ${item.title}`)), [feed]);
  useEffect(() => {
    if (!open) return;
    const close = (event: Event) => {
      if (event instanceof KeyboardEvent ? event.key === "Escape" : !root.current?.contains(event.target as Node)) {
        setOpen(false);
      }
    };
    addEventListener("keydown", close);
    addEventListener("click", close);
    return () => { removeEventListener("keydown", close); removeEventListener("click", close); };
  }, [open]);
  const readAll = useAction(() => feed.markAllRead());
  const label = `Notifications, ${state.unread} unread`;
  return (
    <div class="bell" ref={root}>
      <button type="button" class="bell-button" aria-label={label} aria-expanded={open}
              aria-controls="bell-panel" onClick={() => setOpen(!open)} data-testid="bell">
        <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor"
             stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
          <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" /><path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </svg>
        {state.unread > 0 && <span class="badge" data-testid="unread-badge" aria-hidden="true">{state.unread}</span>}
      </button>
      <span class="visually-hidden" aria-live="polite">{announce}</span>
      {open && (
        <div id="bell-panel" class="bell-panel" role="region" aria-label="Notifications">
          <header>
            <h2>Notifications</h2>
            <span class={`feed-mode mode-${state.mode}`} title="how new notifications arrive">
              {state.mode === "live" ? "live" : state.mode === "polling" ? "polling every 30 s" : "connecting"}
            </span>
          </header>
          {state.items.length === 0 && <p class="muted">Nothing yet.</p>}
          <ul>
            {state.items.map((item) => <Item key={item.id} item={item} feed={feed} onOpen={() => setOpen(false)} />)}
          </ul>
          <footer>
            <button type="button" onClick={() => void readAll.act()} disabled={readAll.pending || state.unread === 0}
                    aria-busy={readAll.pending}>
              {readAll.pending ? "Marking…" : "Mark all read"}
            </button>
            <ProblemView error={readAll.error} />
          </footer>
        </div>
      )}
    </div>
  );
}

function Item({ item, feed, onOpen }: { item: Notification; feed: Feed; onOpen: () => void }) {
  const read = useAction(() => feed.markRead(item.id));
  const remove = useAction(() => feed.remove(item.id));
  return (
    <li class={item.read_at ? "read" : "unread"} data-testid="notification" data-type={item.type}>
      <div class="item-head">
        <strong>{item.title}</strong>
        {!item.read_at && <span class="visually-hidden">(unread)</span>}
        <small><When at={item.created_at} /></small>
      </div>
      <p>{item.body}</p>
      <div class="item-actions">
        {item.link && <a href={consoleHref(item.link)} onClick={onOpen}>Open</a>}
        {!item.read_at && (
          <button type="button" class="link" onClick={() => void read.act()} disabled={read.pending}
                  aria-label={`Mark read: ${item.title}`}>{read.pending ? "Marking…" : "Mark read"}</button>
        )}
        <button type="button" class="link" onClick={() => void remove.act()} disabled={remove.pending}
                aria-label={`Delete: ${item.title}`}>{remove.pending ? "Deleting…" : "Delete"}</button>
      </div>
      <ProblemView error={read.error || remove.error} />
    </li>
  );
}
