// Runs a composite GitHub Action the way a GitHub-hosted runner does, as far
// as it can be done offline, for pipec's tests (action_test.go).
//
//   node action-runner.mjs spec.json
//
// - action.yml is read by GitHub's own parser and schema
//   (@actions/workflow-parser's parseAction); any error stops the run.
// - `if`, `env`, `with`, `run` and the action's outputs are evaluated with
//   GitHub's own expression engine (@actions/expressions), with the status
//   functions and the inputs, steps, runner, github and env contexts.
// - `run` steps run as a runner runs them: `bash --noprofile --norc -eo
//   pipefail {0}`, in GITHUB_WORKSPACE, with GITHUB_OUTPUT, GITHUB_ENV,
//   GITHUB_PATH and GITHUB_STEP_SUMMARY files read back after each step and
//   workflow commands (::error file=...::) collected from stdout.
// - Steps that use other actions are emulated, since they need GitHub's
//   services: actions/cache/restore and actions/cache/save keep caches in
//   a directory, with GitHub's key and restore-keys rules; actions/setup-go
//   checks that the Go on PATH is the version asked for; upload-sarif checks
//   the file is SARIF 2.1.0 whose locations are files of the workspace.
//   Anything else fails the run.
//
// The spec: {modules, action, inputs, workspace, home, temp, state, sha,
// env, out}. The result, written to spec.out as JSON: {errors, steps,
// outputs, annotations, summary, conclusion, uploads}.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { register } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

// @actions/workflow-parser imports its JSON schema without an import
// attribute, which Node 20 refuses; this hook loads .json modules as JSON.
register("data:text/javascript," + encodeURIComponent(`
import { readFile } from "node:fs/promises";
export async function load(url, context, next) {
  if (url.endsWith(".json")) return { format: "json", source: await readFile(new URL(url)), shortCircuit: true };
  return next(url, context);
}`));
const mod = (p) => import(pathToFileURL(join(spec.modules, p)).href);
const { NoOperationTraceWriter } = await mod("@actions/workflow-parser/dist/index.js");
const { parseAction, convertActionTemplate } = await mod("@actions/workflow-parser/dist/actions/index.js");
const ex = await mod("@actions/expressions/dist/index.js");
const { truthy } = await mod("@actions/expressions/dist/result.js");
const YAML = await mod("yaml/dist/index.js");

const result = { errors: [], steps: [], outputs: {}, annotations: [], summary: "", conclusion: "success", uploads: [] };
const finish = () => {
  writeFileSync(spec.out, JSON.stringify(result, null, 2));
  process.exit(0);
};

const content = readFileSync(spec.action, "utf8");
const parsed = parseAction({ name: "action.yml", content }, new NoOperationTraceWriter());
result.errors = parsed.context.errors.getErrors().map((e) => e.message);
if (result.errors.length > 0 || !parsed.value) {
  result.conclusion = "failure";
  finish();
}
const template = convertActionTemplate(parsed.context, parsed.value);
result.errors = parsed.context.errors.getErrors().map((e) => e.message);
if (result.errors.length > 0 || template.runs?.using !== "composite") {
  result.errors.push(`runs.using is ${template.runs?.using}; only composite actions run here`);
  result.conclusion = "failure";
  finish();
}
// The converter keeps no `with`, `shell` or `working-directory`: those are
// read from the document parseAction accepted.
const raw = YAML.parse(content);

// Contexts.
const inputs = {};
for (const def of template.inputs ?? []) {
  inputs[def.id] = def.default?.value ?? "";
}
for (const [k, v] of Object.entries(spec.inputs ?? {})) {
  if (!(k in inputs)) {
    result.errors.push(`input ${k} is not declared by the action`);
  }
  inputs[k] = String(v);
}
const runnerCtx = { os: "Linux", arch: "X64", name: "GitHub Actions 1", temp: spec.temp, tool_cache: join(spec.temp, "tool-cache"), environment: "github-hosted" };
const githubCtx = {
  workspace: spec.workspace, sha: spec.sha, ref: "refs/pull/1/merge", event_name: "pull_request", repository: "acme/shop",
  action_path: dirname(spec.action), action_ref: spec.actionRef ?? "", server_url: "https://github.com", run_id: "1", run_attempt: "1",
};
const stepsCtx = {};
let jobStatus = "success";
const envCtx = {};

const statusFns = new Map();
for (const [name, fn] of Object.entries({
  success: () => jobStatus === "success",
  failure: () => jobStatus === "failure",
  always: () => true,
  cancelled: () => false,
})) {
  statusFns.set(name, { name, minArgs: 0, maxArgs: 0, call: () => new ex.data.BooleanData(fn()) });
}

function evaluate(expr) {
  const lexed = new ex.Lexer(expr).lex();
  const contexts = { inputs, steps: stepsCtx, runner: runnerCtx, github: githubCtx, env: envCtx };
  const tree = new ex.Parser(lexed.tokens, Object.keys(contexts), [...statusFns.values()]).parse();
  const data = JSON.parse(JSON.stringify(contexts), ex.data.reviver);
  return new ex.Evaluator(tree, data, statusFns).evaluate();
}
const str = (d) => (d.kind === ex.data.Kind.Null ? "" : d.coerceString());
// interpolate replaces each ${{ expr }} in s.
const interpolate = (s) => String(s ?? "").replace(/\$\{\{(.*?)\}\}/gs, (_, e) => str(evaluate(e)));
// token evaluates a converted template token: a literal or an expression.
function token(t) {
  if (t === undefined || t === null) return "";
  if (typeof t === "string" || typeof t === "boolean" || typeof t === "number") return String(t);
  if (t.expr !== undefined) return str(evaluate(t.expr));
  if (t.value !== undefined) return String(t.value);
  throw new Error(`cannot evaluate token ${JSON.stringify(t)}`);
}
function mapping(t) {
  const out = {};
  for (const { key, value } of t?.map?.map((p) => ({ key: token(p.Key ?? p.key), value: p.Value ?? p.value })) ?? []) {
    out[key] = token(value);
  }
  return out;
}
const expandHome = (p) => (p.startsWith("~/") ? join(spec.home, p.slice(2)) : isAbsolute(p) ? p : join(spec.workspace, p));
const lines = (s) => String(s ?? "").split("\n").map((l) => l.trim()).filter(Boolean);

// Emulated actions: name (without @ref) -> function(with) -> {outputs, ok, log}.
const caches = join(spec.state, "caches");
const cacheDir = (key) => join(caches, Buffer.from(key).toString("base64url"));
const emulated = {
  "actions/cache/restore"(w) {
    const key = w.key;
    const paths = lines(w.path).map(expandHome);
    const candidates = [key, ...lines(w["restore-keys"])];
    mkdirSync(caches, { recursive: true });
    const stored = readdirSync(caches).map((d) => ({ key: Buffer.from(d, "base64url").toString(), dir: join(caches, d), time: statSync(join(caches, d)).mtimeMs }));
    let hit = null;
    for (const [i, c] of candidates.entries()) {
      // An exact match for the key; for restore-keys, the newest cache whose key starts with it.
      const found = stored.filter((s) => (i === 0 ? s.key === c : s.key.startsWith(c))).sort((a, b) => b.time - a.time)[0];
      if (found) {
        hit = found;
        break;
      }
    }
    const outputs = { "cache-primary-key": key, "cache-hit": "false", "cache-matched-key": "" };
    if (hit) {
      paths.forEach((p, i) => {
        if (existsSync(join(hit.dir, String(i)))) cpSync(join(hit.dir, String(i)), p, { recursive: true });
      });
      outputs["cache-matched-key"] = hit.key;
      outputs["cache-hit"] = String(hit.key === key);
    }
    return { ok: true, outputs, log: hit ? `Cache restored from key: ${hit.key}` : `Cache not found for input keys: ${candidates.join(", ")}` };
  },
  "actions/cache/save"(w) {
    const key = w.key;
    if (!key) return { ok: false, log: "Input required and not supplied: key" };
    const dir = cacheDir(key);
    if (existsSync(dir)) return { ok: true, log: `Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.` };
    const paths = lines(w.path).map(expandHome);
    if (!paths.some((p) => existsSync(p))) return { ok: true, log: "Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved." };
    paths.forEach((p, i) => existsSync(p) && cpSync(p, join(dir, String(i)), { recursive: true }));
    return { ok: true, log: `Cache saved with key: ${key}` };
  },
  "actions/setup-go"(w) {
    const out = spawnSync("go", ["env", "GOVERSION"], { env: baseEnv(), encoding: "utf8" });
    const have = out.stdout.trim().replace(/^go/, "");
    const want = w["go-version"] ?? "";
    const re = new RegExp("^" + want.replace(/\./g, "\\.").replace(/\\\.x$/, "(\\.\\d+)*") + "$");
    if (!re.test(have)) return { ok: false, log: `go-version ${want} asked for; the runner has go ${have}` };
    return { ok: true, outputs: { "go-version": have }, log: `go ${have} matches ${want} (not downloaded: the runner's Go is used)` };
  },
  "github/codeql-action/upload-sarif"(w) {
    const file = expandHome(w.sarif_file ?? "../results");
    let sarif;
    try {
      sarif = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      return { ok: false, log: `${file}: ${e.message}` };
    }
    const problems = [];
    if (sarif.version !== "2.1.0") problems.push(`version ${sarif.version}, want 2.1.0`);
    let results = 0;
    for (const run of sarif.runs ?? []) {
      if (!run.tool?.driver?.name) problems.push("a run without tool.driver.name");
      for (const r of run.results ?? []) {
        results++;
        if (r.ruleIndex !== undefined && run.tool.driver.rules?.[r.ruleIndex]?.id !== r.ruleId) problems.push(`result ${r.ruleId}: ruleIndex points at another rule`);
        for (const l of r.locations ?? []) {
          const uri = l.physicalLocation?.artifactLocation?.uri;
          if (uri === undefined) continue;
          if (isAbsolute(uri) || uri.includes("://") || !existsSync(join(spec.workspace, uri))) problems.push(`result ${r.ruleId}: ${uri} is not a file of the repository`);
        }
      }
    }
    if (problems.length) return { ok: false, log: problems.join("\n") };
    result.uploads.push({ file, category: w.category ?? "", results });
    return { ok: true, log: `Uploaded ${results} results (category ${w.category})` };
  },
};

// The environment every step starts from.
const pathAdditions = [];
function baseEnv() {
  const env = { ...spec.env, ...envCtx };
  Object.assign(env, {
    HOME: spec.home, CI: "true", GITHUB_ACTIONS: "true", GITHUB_WORKSPACE: spec.workspace, GITHUB_SHA: spec.sha,
    GITHUB_REPOSITORY: githubCtx.repository, GITHUB_EVENT_NAME: githubCtx.event_name, GITHUB_ACTION_PATH: githubCtx.action_path,
    RUNNER_OS: runnerCtx.os, RUNNER_ARCH: runnerCtx.arch, RUNNER_TEMP: spec.temp, RUNNER_TOOL_CACHE: runnerCtx.tool_cache,
  });
  env.PATH = [...pathAdditions].reverse().concat(env.PATH ?? "").join(":");
  return env;
}

// readKV reads a GITHUB_OUTPUT or GITHUB_ENV file: name=value lines and
// name<<DELIMITER heredocs.
function readKV(file) {
  const out = {};
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const ls = text.split("\n");
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    if (!l) continue;
    const h = l.match(/^([^=<]+)<<(.+)$/);
    if (h) {
      const body = [];
      for (i++; i < ls.length && ls[i] !== h[2]; i++) body.push(ls[i]);
      out[h[1]] = body.join("\n");
      continue;
    }
    const eq = l.indexOf("=");
    if (eq > 0) out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}

// Workflow commands in a step's stdout.
function commands(stdout, step) {
  for (const l of stdout.split("\n")) {
    const m = l.match(/^::(error|warning|notice)(?: ([^:]*))?::(.*)$/);
    if (!m) continue;
    const props = {};
    for (const kv of (m[2] ?? "").split(",").filter(Boolean)) {
      const eq = kv.indexOf("=");
      props[kv.slice(0, eq)] = unescape(kv.slice(eq + 1), true);
    }
    result.annotations.push({ step, level: m[1], ...props, message: unescape(m[3], false) });
  }
}
function unescape(s, property) {
  let r = s.replace(/%0D/g, "\r").replace(/%0A/g, "\n");
  if (property) r = r.replace(/%3A/g, ":").replace(/%2C/g, ",");
  return r.replace(/%25/g, "%");
}

let n = 0;
for (const [i, step] of template.runs.steps.entries()) {
  const rawStep = raw.runs.steps[i];
  const id = step.id || `__${i}`;
  const name = token(step.name) || (step.uses ? `Run ${token(step.uses)}` : `Run ${lines(token(step.run))[0] ?? ""}`);
  const rec = { id: step.id, name, uses: step.uses ? token(step.uses) : undefined, ran: false, outcome: "skipped", conclusion: "skipped", outputs: {}, log: "" };
  result.steps.push(rec);
  const cond = step.if ? truthy(evaluate(step.if.expr)) : jobStatus === "success";
  if (!cond) {
    stepsCtx[id] = { outputs: {}, outcome: "skipped", conclusion: "skipped" };
    continue;
  }
  rec.ran = true;
  const env = { ...baseEnv(), ...mapping(step.env) };
  let ok = false;
  if (step.uses) {
    const uses = token(step.uses);
    const w = {};
    for (const [k, v] of Object.entries(rawStep.with ?? {})) w[k] = interpolate(v);
    const emu = emulated[uses.replace(/@.*$/, "")];
    if (!emu) {
      rec.log = `${uses} cannot run here`;
    } else {
      const r = emu(w);
      ok = r.ok;
      rec.outputs = r.outputs ?? {};
      rec.log = r.log ?? "";
    }
  } else {
    const shell = interpolate(rawStep.shell);
    if (shell !== "bash") {
      rec.log = `shell ${shell} is not run here`;
    } else {
      const files = {};
      for (const f of ["GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE"]) {
        files[f] = join(spec.temp, "_runner_file_commands", `${f.toLowerCase()}_${n}`);
        mkdirSync(dirname(files[f]), { recursive: true });
        writeFileSync(files[f], "");
        env[f] = files[f];
      }
      const script = join(spec.temp, `step-${n++}.sh`);
      writeFileSync(script, interpolate(token(step.run)));
      const cwd = rawStep["working-directory"] ? resolve(spec.workspace, interpolate(rawStep["working-directory"])) : spec.workspace;
      const p = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], { cwd, env, encoding: "utf8", maxBuffer: 64 << 20 });
      rec.log = (p.stdout ?? "") + (p.stderr ?? "");
      rec.exitCode = p.status;
      ok = p.status === 0;
      commands(p.stdout ?? "", rec.name);
      rec.outputs = readKV(files.GITHUB_OUTPUT);
      Object.assign(envCtx, readKV(files.GITHUB_ENV));
      pathAdditions.push(...lines(readFileSync(files.GITHUB_PATH, "utf8")));
      result.summary += readFileSync(files.GITHUB_STEP_SUMMARY, "utf8");
    }
  }
  const continueOnError = step["continue-on-error"] === true || token(step["continue-on-error"]) === "true";
  rec.outcome = ok ? "success" : "failure";
  rec.conclusion = ok || continueOnError ? "success" : "failure";
  stepsCtx[id] = { outputs: rec.outputs, outcome: rec.outcome, conclusion: rec.conclusion };
  if (rec.conclusion === "failure") jobStatus = "failure";
}
for (const o of template.outputs ?? []) result.outputs[o.id] = token(o.value);
result.conclusion = jobStatus;
finish();
