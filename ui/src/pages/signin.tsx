// Sign-in: the API key is checked against the API, then kept in sessionStorage only.
import { useState } from "preact/hooks";
import { request, setKey } from "../api";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setText] = useState("");
  const [error, setError] = useState<string>();
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await request("GET", "/flows", { key: key.trim(), query: { limit: 1 } });
      setKey(key.trim());
      location.hash = "#/runs";
      onSignedIn(); // the hash may have been #/runs already: render again all the same
    } catch (err) {
      setError((err as Error).message || "the key was refused");
    }
  };
  return (
    <main class="signin" id="main">
      <h1>Sign in to Stratoflow</h1>
      <form onSubmit={submit}>
        <div class="field">
          <label for="api-key">API key</label>
          <input id="api-key" type="password" autocomplete="off" value={key} required
            onInput={(e) => setText(e.currentTarget.value)} placeholder="sf_…" />
        </div>
        <button type="submit">Sign in</button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>
      <p class="muted">The key stays in this tab's session storage and is sent only to this API.</p>
    </main>
  );
}
