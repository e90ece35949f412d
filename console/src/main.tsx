// The console: one layout (navigation by role, the bell), the pages by path.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { AdminCases } from "./pages/admin_cases";
import { AdminPayoutPage, AdminPayouts } from "./pages/admin_payouts";
import { CreatorDashboard } from "./pages/creator";
import { PaymentPage } from "./pages/payment";
import { PayoutPage } from "./pages/payout";
import { SignIn } from "./pages/signin";
import { Bell } from "./bell";
import { Feed } from "./feed";
import { navigate, onLinkClick, usePath } from "./router";
import { session, takeTokenFromFragment, type Who } from "./session";
import { Forbidden } from "./ui";

takeTokenFromFragment();

function useWho(): Who | null {
  const [who, setWho] = useState(session.who());
  useEffect(() => session.subscribe(() => setWho(session.who())), []);
  return who;
}

function home(who: Who): string {
  return who.role === "admin" ? "/admin/payouts" : who.role === "creator" ? "/dashboard" : "/notifications";
}

const NAV: Record<Who["role"], [string, string][]> = {
  creator: [["/dashboard", "Dashboard"]],
  admin: [["/admin/payouts", "Payouts"], ["/admin/refunds", "Refunds"], ["/admin/disputes", "Disputes"]],
  fan: [["/notifications", "Notifications"]],
};

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

function Page({ path, who, feed }: { path: string; who: Who; feed: Feed }) {
  const admin = who.role === "admin";
  let match: RegExpExecArray | null;
  if (path === "/" || path === "/signin") return <Redirect to={home(who)} />;
  if (path.startsWith("/admin") && !admin) return <Forbidden />;
  if (path === "/dashboard" || path === "/debts") return <CreatorDashboard who={who} feed={feed} focus={path} />;
  if (path === "/admin/payouts") return <AdminPayouts who={who} />;
  if ((match = /^\/admin\/payouts\/([^/]+)$/.exec(path))) return <AdminPayoutPage payoutId={match[1]} who={who} />;
  if (path === "/admin/refunds") return <AdminCases kind="refunds" />;
  if (path === "/admin/disputes") return <AdminCases kind="disputes" />;
  if ((match = /^\/payouts\/([^/]+)$/.exec(path))) return <PayoutPage payoutId={match[1]} who={who} feed={feed} />;
  if ((match = /^\/payments\/([^/]+)(\/refunds)?$/.exec(path))) {
    return <PaymentPage paymentId={match[1]} who={who} feed={feed} />;
  }
  if (path === "/notifications") {
    return <section><h1>Notifications</h1><p>Your notifications are in the bell at the top of every page.</p></section>;
  }
  return <section><h1>Not found</h1><p role="alert">No console page at this address.</p></section>;
}

function App() {
  const who = useWho();
  const path = usePath();
  const feed = useMemo(() => (who ? new Feed() : null), [who?.userId, who?.role]);
  useEffect(() => {
    feed?.start();
    return () => feed?.stop();
  }, [feed]);
  // Signed out, any address shows the sign-in; once signed in, the page asked for (a deep link from an email).
  if (!who || !feed) return <main id="main"><SignIn /></main>;
  return (
    <div onClick={onLinkClick}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/console/">Callastar</a>
        <nav aria-label="Main">
          {NAV[who.role].map(([to, label]) => (
            <a key={to} href={`/console${to}`} aria-current={path.startsWith(to) ? "page" : undefined}>{label}</a>
          ))}
        </nav>
        <div class="who">
          <Bell feed={feed} />
          <span class="user" title="signed in as">{who.userId} <small>({who.role})</small></span>
          <button type="button" class="link" onClick={() => session.signOut()}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}><Page path={path} who={who} feed={feed} /></main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
