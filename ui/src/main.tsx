// The dashboard: hash routes under /ui, a sign-in gate, one module per page.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { getKey, signOut } from "./api";
import { DeploymentsPage } from "./pages/deployments";
import { FlowsPage } from "./pages/flows";
import { LimitsPage } from "./pages/limits";
import { RunPage } from "./pages/run";
import { RunsPage } from "./pages/runs";
import { SignIn } from "./pages/signin";
import { WorkPage } from "./pages/work";
import "./style.css";

const NAV: [string, string][] = [["#/runs", "Runs"], ["#/deployments", "Deployments"], ["#/flows", "Flows"],
  ["#/work", "Work queues"], ["#/limits", "Concurrency limits"]];

function useHash(): string {
  const [hash, setHash] = useState(location.hash || "#/runs");
  useEffect(() => {
    const changed = () => setHash(location.hash || "#/runs");
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function Page({ hash }: { hash: string }) {
  const [, section, id] = hash.slice(1).split("/");
  if (section === "runs" && id) return <RunPage id={decodeURIComponent(id)} />;
  if (section === "deployments") return <DeploymentsPage />;
  if (section === "flows") return <FlowsPage />;
  if (section === "work") return <WorkPage />;
  if (section === "limits") return <LimitsPage />;
  return <RunsPage />;
}

function App() {
  const hash = useHash();
  const [, setSignedIn] = useState(0);
  if (!getKey() || hash === "#/sign-in") return <SignIn onSignedIn={() => setSignedIn((n) => n + 1)} />;
  const current = `#/${hash.slice(2).split("/")[0]}`;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
      <header>
        <nav aria-label="Main">
          <strong class="brand">Stratoflow</strong>
          {NAV.map(([href, label]) => (
            <a key={href} href={href} aria-current={current === href ? "page" : undefined}>{label}</a>
          ))}
          <button type="button" class="link" onClick={signOut}>Sign out</button>
        </nav>
      </header>
      <Page hash={hash} />
    </>
  );
}

render(<App />, document.getElementById("app")!);
