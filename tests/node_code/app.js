// Node.js handlers in each form Lambda's runtime takes, for tests/test_node_functions.py.
const { exec } = require("child_process");

exports.answer = async (event, context) => {
  console.log("asked", event.n);
  console.error("a warning on stderr");
  process.stdout.write("raw stdout\n");
  return {
    n: event.n, version: context.functionVersion, name: context.functionName, request: context.awsRequestId,
    arn: context.invokedFunctionArn, memory: context.memoryLimitInMB, remaining: context.getRemainingTimeInMillis(),
    greeting: process.env.GREETING, region: process.env.AWS_REGION, pid: process.pid, cwd: process.cwd(),
  };
};

exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { via: "callback", n: event.n }), 5);
};

exports.callbackError = (event, context, callback) => callback(new RangeError("out of range"));

exports.raise = async () => {
  throw new TypeError("Cannot read properties of undefined (reading 'toLowerCase')");
};

exports.nothing = async () => undefined;

exports.sleep = (event) => new Promise((resolve) => setTimeout(resolve, 60_000));

exports.crashLater = (event, context, callback) => {
  setTimeout(() => { throw new Error("thrown from a timer"); }, 5);
};

exports.reject = (event, context, callback) => {
  Promise.reject(new Error("nobody awaited this"));
};

exports.nested = { deeper: async () => ({ nested: true }) };

exports.shell = exec;  // a function of Node's own, re-exported: never a handler a request can set

exports.sdk = async () => {
  const { LambdaClient, ListFunctionsCommand } = require("@aws-sdk/client-lambda");
  const listed = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  return { functions: listed.Functions.map((f) => f.FunctionName).sort().join(",") };
};

// An async handler that also answers through its callback (AWS's own SAM samples do): the first answer wins.
exports.both = async (event, context, callback) => {
  callback(null, { via: "callback", pid: process.pid });
  return { via: "promise" };
};

// SDK v2, which Lambda's nodejs16.x and older runtimes provide (and v3's clients from nodejs18.x).
exports.sdkV2 = async () => {
  const AWS = require("aws-sdk");
  const listed = await new AWS.Lambda().listFunctions({}).promise();
  return { functions: listed.Functions.map((f) => f.FunctionName).sort().join(",") };
};
