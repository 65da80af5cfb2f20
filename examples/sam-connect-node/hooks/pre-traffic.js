// The deployment's PreTraffic hook: before any caller reaches the new version, call it with a test
// contact and report to CodeDeploy whether its answer is one Connect accepts (a flat map: strings,
// numbers or booleans; an object, a list or null is not understood).
// The AWS SDK for JavaScript v3 is the one Lambda's Node.js runtime provides.
const { LambdaClient, InvokeCommand } = require("@aws-sdk/client-lambda");
const { CodeDeployClient, PutLifecycleEventHookExecutionStatusCommand } = require("@aws-sdk/client-codedeploy");

const lambda = new LambdaClient({});
const codedeploy = new CodeDeployClient({});

const testContact = {
  Name: "ContactFlowEvent",
  Details: {
    ContactData: {
      ContactId: "00000000-0000-4000-8000-00000000beef",
      Channel: "VOICE",
      CustomerEndpoint: { Address: "+15555550100", Type: "TELEPHONE_NUMBER" },
      Attributes: { language: "en-US" },
    },
    Parameters: {},
  },
};

exports.handler = async (event) => {
  let status = "Succeeded";
  try {
    const answer = await lambda.send(new InvokeCommand({
      FunctionName: process.env.NEW_VERSION,  // the new version's ARN: the template's !Ref ConnectLambdaFunction.Version
      Payload: Buffer.from(JSON.stringify(testContact)),
    }));
    const body = JSON.parse(Buffer.from(answer.Payload).toString("utf8"));
    if (answer.FunctionError || Object.values(body).some((v) => v === null || typeof v === "object")) {
      console.error("the new version's answer is not one Connect accepts:", JSON.stringify(body));
      status = "Failed";
    }
  } catch (error) {
    console.error("the new version could not be called:", error);
    status = "Failed";
  }
  await codedeploy.send(new PutLifecycleEventHookExecutionStatusCommand({
    deploymentId: event.DeploymentId,
    lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
    status,
  }));
  return { reported: status };
};
