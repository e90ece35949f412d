// Sign-in. In production the platform's identity provider signs people in and
// hands the console a token (a redirect to /console/#token=...); in development
// and tests, POST /dev/token mints one for the user id and role picked here.
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { session, type Role } from "../session";
import { ProblemView, useAction } from "../ui";

export function SignIn() {
  const [userId, setUserId] = useState("creator-1");
  const [role, setRole] = useState<Role>("creator");
  const signIn = useAction(async () => {
    const response = await fetch("/dev/token", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user_id: userId, role }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 404) {
      throw new ApiError(404, { title: "Development sign-in is off",
        detail: "This deployment signs people in through the platform's identity provider." });
    }
    if (!response.ok) throw new ApiError(response.status, body);
    session.signIn(body.token);
  });
  return (
    <section class="signin">
      <h1>Callastar console</h1>
      <p>Sign in through your Callastar account: the platform's sign-in brings you back here.</p>
      <form onSubmit={(event) => { event.preventDefault(); void signIn.act(); }}>
        <fieldset>
          <legend>Development sign-in</legend>
          <label for="user-id">User id</label>
          <input id="user-id" name="user_id" value={userId} required autoComplete="username"
                 onInput={(event) => setUserId(event.currentTarget.value)} />
          <label for="role">Role</label>
          <select id="role" name="role" value={role} onChange={(event) => setRole(event.currentTarget.value as Role)}>
            <option value="creator">creator</option>
            <option value="admin">admin</option>
            <option value="fan">fan</option>
          </select>
          <button type="submit" disabled={signIn.pending} aria-busy={signIn.pending}>
            {signIn.pending ? "Signing in…" : "Sign in"}
          </button>
        </fieldset>
      </form>
      <ProblemView error={signIn.error} />
    </section>
  );
}
