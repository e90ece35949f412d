// Client-side routes under /console; the gateway answers every /console path
// with the app, so deep links (from emails and notifications) open here.
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";

export function navigate(to: string, replace = false): void {
  const url = to.startsWith(BASE) ? to : `${BASE}${to}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** The path inside the console, e.g. "/payouts/123". */
export function usePath(): string {
  const read = () => location.pathname.slice(BASE.length) || "/";
  const [path, setPath] = useState(read);
  useEffect(() => {
    const update = () => setPath(read());
    addEventListener("popstate", update);
    return () => removeEventListener("popstate", update);
  }, []);
  return path;
}

/** A notification's link is a console path ("/payments/{id}"); the console page of that object. */
export function consoleHref(link: string): string {
  return `${BASE}${link.startsWith("/") ? link : `/${link}`}`;
}

/** Same-origin links inside the app change the page without a reload. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as HTMLElement).closest("a");
  if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const href = anchor.getAttribute("href");
  if (!href || !href.startsWith(`${BASE}`) || anchor.target || anchor.hasAttribute("download")) return;
  event.preventDefault();
  navigate(href);
}
