// A TypeScript handler as SAM's TypeScript template has it: bundled by esbuild (BuildMethod esbuild), its
// production dependency inside the bundle, the AWS SDK left to the runtime (External).
import isNumber from "is-number";
import { LambdaClient } from "@aws-sdk/client-lambda";

interface ContactFlowEvent {
  Details: { ContactData: { ContactId: string }; Parameters: Record<string, string> };
}

export const handler = async (event: ContactFlowEvent): Promise<Record<string, string>> => {
  const region: string = await new LambdaClient({}).config.region();
  return { version: "1", numeric: String(isNumber(event.Details.Parameters.value)), region };
};
