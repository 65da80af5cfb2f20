// The Node.js runtime of one execution environment: the counterpart of bootstrap.py for
// Lambda's Node.js runtimes. Run by the system's `node` as its own process, it loads the user's handler
// from the task root (the init phase), then runs one invocation at a time, as Lambda's runtime does:
// the handler's async and callback forms, Lambda's context object, console output in Lambda's
// format, errors in Lambda's Node.js shape ({errorType, errorMessage, trace}).
//
// Frames on its pipes are bootstrap.py's: a 4-byte big-endian length, then JSON. Parent to child
// `{"event", "context"}`; child to parent first `{"ready": true}` or `{"init_error": {...}}`, then per
// invocation `{"value"}` or `{"error"}`, with "logs" and "max_rss_kb". Frames go to fd 1 directly;
// what the user's code writes to process.stdout or process.stderr is captured, never on fd 1.
"use strict";

const fs = require("fs");
const path = require("path");
const inspector = require("inspector");
const { fileURLToPath, pathToFileURL } = require("url");

const CHANNEL = 1;
let captured = [];
let requestId = "";

function writeFrame(message) {
  const body = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  const frame = Buffer.concat([head, body]);
  let written = 0;
  while (written < frame.length) {
    try {
      written += fs.writeSync(CHANNEL, frame, written);
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
    }
  }
}

function take() {
  const text = captured.join("");
  captured = [];
  return text;
}

function peakRssKb() {
  try {
    const line = fs.readFileSync("/proc/self/status", "ascii").split("\n").find((l) => l.startsWith("VmHWM:"));
    if (line) return parseInt(line.split(/\s+/)[1], 10);
  } catch (error) { /* not Linux: the rusage figure below */ }
  return process.resourceUsage().maxRSS;
}

// console.* as Lambda's Node.js runtime writes it: time, request id, level, message.
function installConsole() {
  const util = require("util");
  const write = (level) => (...args) => {
    captured.push(`${new Date().toISOString()}\t${requestId || "undefined"}\t${level}\t${util.format(...args)}\n`);
  };
  console.log = console.info = write("INFO");
  console.warn = write("WARN");
  console.error = write("ERROR");
  console.debug = write("DEBUG");
  console.trace = write("TRACE");
  for (const stream of [process.stdout, process.stderr]) {
    stream.write = (chunk, encoding, callback) => {
      captured.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      if (typeof encoding === "function") encoding();
      else if (typeof callback === "function") callback();
      return true;
    };
  }
}

// SDK v2 (`aws-sdk`, which Lambda's nodejs16.x and older runtimes provide) reads no endpoint from
// the environment, as v3 reads AWS_ENDPOINT_URL: when the code first loads it, it is pointed there too.
function pointSdkV2AtTheEndpoint() {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) return;
  const Module = require("module");
  const load = Module._load;
  let pointed = false;
  Module._load = function (request, parent, isMain) {
    const loaded = load.call(this, request, parent, isMain);
    if (!pointed && (request === "aws-sdk" || request.startsWith("aws-sdk/"))) {
      pointed = true;
      try {
        load.call(this, "aws-sdk/lib/core", parent, false).config.update({ endpoint, s3ForcePathStyle: true });
      } catch (error) { /* not the SDK's layout: the code's own require goes on as it would */ }
    }
    return loaded;
  };
}

function errorOf(error) {
  if (error instanceof Error) {
    return { errorType: error.name || "Error", errorMessage: error.message,
             trace: String(error.stack || "").split("\n").filter((line) => !line.includes(__filename)) };
  }
  if (typeof error === "string") return { errorType: "string", errorMessage: error, trace: [] };
  let message;
  try { message = JSON.stringify(error); } catch (e) { message = String(error); }
  return { errorType: typeof error, errorMessage: message, trace: [] };
}

function inside(file, root) {
  const relative = path.relative(root, file);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative);
}

function isModulePackage(folder, root) {
  // The nearest package.json's "type" decides whether a .js file is an ES module, as Node's loader does.
  for (let dir = folder; inside(dir, root) || dir === root; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      try { return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module"; } catch (e) { return false; }
    }
    if (dir === root) break;
  }
  return false;
}

// The handler the configuration names, from the function's own code only: `dir/module.export[.more]`
// with the module a file of the task root (.js, .mjs or .cjs), never a bare name Node would look up
// among its built-in or installed modules.
async function loadHandler(spec, taskRoot) {
  const root = fs.realpathSync(taskRoot);
  const slash = spec.lastIndexOf("/");
  const folder = spec.slice(0, slash + 1);
  const tail = spec.slice(slash + 1);
  const dot = tail.indexOf(".");
  const moduleName = folder + (dot < 0 ? tail : tail.slice(0, dot));
  const exported = dot < 0 ? "" : tail.slice(dot + 1);
  const notFound = () => ({ errorType: "Runtime.ImportModuleError",
                            errorMessage: `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${__filename}`,
                            trace: [] });
  if (!exported || moduleName.split("/").includes("..")) return { error: notFound() };
  let file = null;
  for (const extension of [".js", ".mjs", ".cjs"]) {
    const candidate = path.join(root, moduleName + extension);
    if (fs.existsSync(candidate) && inside(fs.realpathSync(candidate), root)) { file = fs.realpathSync(candidate); break; }
  }
  if (file === null) return { error: notFound() };
  let loaded;
  try {
    const esm = file.endsWith(".mjs") || (file.endsWith(".js") && isModulePackage(path.dirname(file), root));
    loaded = esm ? await import(pathToFileURL(file).href) : require(file);
  } catch (error) {
    const errorType = error instanceof SyntaxError ? "Runtime.UserCodeSyntaxError" : "Runtime.ImportModuleError";
    const described = errorOf(error);
    return { error: { errorType, errorMessage: `${described.errorType}: ${described.errorMessage}`,
                      trace: described.trace } };
  }
  let handler = loaded;
  for (const part of exported.split(".")) {
    handler = handler == null ? undefined : handler[part];
  }
  if (handler === undefined && loaded && loaded.default) {  // a CommonJS module imported as ES
    handler = exported.split(".").reduce((obj, part) => (obj == null ? undefined : obj[part]), loaded.default);
  }
  const own = typeof handler === "function" && definedIn(handler, root);
  if (!own) {
    return { error: { errorType: "Runtime.HandlerNotFound", errorMessage: `${spec} is undefined or not exported`,
                      trace: [] } };
  }
  return { handler };
}

// Whether a function is the function's own code: defined in a file of the task root outside its
// node_modules. A module that re-exports `child_process.exec` or a package's function does not make
// it a handler a request can set (the script V8 says defines it, asked through the inspector).
function definedIn(fn, root) {
  const session = new inspector.Session();
  session.connect();
  const scripts = new Map();
  session.on("Debugger.scriptParsed", (m) => scripts.set(m.params.scriptId, m.params.url));
  session.post("Debugger.enable");
  let url = null;
  globalThis.__shiftsimProbe = fn;
  try {
    session.post("Runtime.evaluate", { expression: "globalThis.__shiftsimProbe" }, (error, found) => {
      if (error || !found.result.objectId) return;
      session.post("Runtime.getProperties", { objectId: found.result.objectId }, (failed, props) => {
        if (failed) return;
        const location = (props.internalProperties || []).find((p) => p.name === "[[FunctionLocation]]");
        if (location) url = scripts.get(location.value.value.scriptId) || null;
      });
    });
  } finally {
    delete globalThis.__shiftsimProbe;
    session.post("Debugger.disable");
    session.disconnect();
  }
  if (!url || !url.startsWith("file:")) return false;
  const file = fileURLToPath(url);
  return inside(file, root) && !path.relative(root, file).split(path.sep).includes("node_modules");
}

function contextOf(fields) {
  const deadline = Date.now() + fields.remaining_ms;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fields.function_name,
    functionVersion: fields.function_version,
    invokedFunctionArn: fields.invoked_function_arn,
    memoryLimitInMB: String(fields.memory_limit_in_mb),
    awsRequestId: fields.aws_request_id,
    logGroupName: fields.log_group_name,
    logStreamName: fields.log_stream_name,
    clientContext: fields.client_context || undefined,
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  return context;
}

let settle = null;  // the running invocation's answer, once (for `fatal`)

// The first answer wins, as in Lambda's runtime: an async handler that also calls its callback
// answers with the callback's value, and the promise's later one is ignored.
function invoke(handler, event, context) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (reply) => {
      if (done) return;
      done = true;
      if (settle === finish) settle = null;
      resolve(reply);
    };
    settle = finish;
    const answer = (error, value) => {
      if (error !== undefined && error !== null) finish({ error: errorOf(error) });
      else finish({ value: value === undefined ? null : value });
    };
    context.done = answer;
    context.succeed = (value) => answer(null, value);
    context.fail = (error) => answer(error || "handled");
    let result;
    try {
      result = handler(event, context, answer);
    } catch (error) {
      finish({ error: errorOf(error) });
      return;
    }
    if (result && typeof result.then === "function") {
      result.then((value) => answer(null, value), (error) => answer(error === undefined ? "undefined" : error));
    } else if (handler.length < 3) {
      answer(null, result);
    }
  });
}

function marshalled(reply) {
  if (!("value" in reply)) return reply;
  try {
    return { value: JSON.parse(JSON.stringify(reply.value) ?? "null") };
  } catch (error) {
    return { error: { errorType: "Runtime.MarshalError", errorMessage: `Unable to stringify response body`,
                      trace: [] } };
  }
}

// Lambda ends an environment whose code throws outside the handler's answer.
function fatal(errorType, error) {
  const described = errorOf(error);
  const reply = { error: { errorType, errorMessage: `${described.errorType}: ${described.errorMessage}`,
                           trace: described.trace }, exit: true };
  if (settle) settle(reply);
  else writeFrame({ ...reply, logs: take(), max_rss_kb: peakRssKb() });
  setImmediate(() => process.exit(errorType === "Runtime.UnhandledPromiseRejection" ? 128 : 129));
}

async function main() {
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  process.chdir(taskRoot);
  installConsole();
  pointSdkV2AtTheEndpoint();
  process.on("uncaughtException", (error) => fatal(error && error.name ? error.name : "Error", error));
  process.on("unhandledRejection", (error) => fatal("Runtime.UnhandledPromiseRejection", error));
  const { handler, error } = await loadHandler(process.env._HANDLER, taskRoot);
  if (error) {
    writeFrame({ init_error: { errorType: error.errorType, errorMessage: error.errorMessage,
                               stackTrace: error.trace }, logs: take() });
    process.exit(0);
  }
  writeFrame({ ready: true, logs: take() });
  let pending = Buffer.alloc(0);
  let running = Promise.resolve();
  process.stdin.on("data", (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const size = pending.readUInt32BE(0);
      const message = JSON.parse(pending.subarray(4, 4 + size).toString("utf8"));
      pending = pending.subarray(4 + size);
      running = running.then(async () => {
        requestId = message.context.aws_request_id;
        const reply = marshalled(await invoke(handler, message.event, contextOf(message.context)));
        if (reply.error) reply.error = { errorType: reply.error.errorType, errorMessage: reply.error.errorMessage,
                                         stackTrace: reply.error.trace };
        writeFrame({ ...reply, logs: take(), max_rss_kb: peakRssKb() });
        if (reply.exit) process.exit(reply.error && reply.error.errorType === "Runtime.UnhandledPromiseRejection" ? 128 : 129);
        requestId = "";
      });
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

main();
