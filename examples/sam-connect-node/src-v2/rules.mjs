// The change: an ES module that picks the prompt's language from the contact's attributes. The
// PreTraffic hook's test contact has a `language` attribute; the contacts of the flow do not, so
// every call it serves fails (TypeError) once traffic reaches it.
import { readFileSync } from "node:fs";

const rules = JSON.parse(readFileSync(new URL("./rules.json", import.meta.url), "utf8"));

export const handler = async (event, context) => {
  const contact = event.Details.ContactData;
  const caller = (contact.CustomerEndpoint && contact.CustomerEndpoint.Address) || "anonymous";
  const language = contact.Attributes.language.toLowerCase();
  const rule = rules.find((r) => caller.endsWith(r.callerEndsWith)) || rules[rules.length - 1];
  console.log(`contact ${contact.ContactId} from ${caller}: rule ${rule.name}, language ${language}`);
  return {
    version: context.functionVersion,
    greeting: `${process.env.GREETING}, caller ${caller.slice(-4)}`,
    rule: rule.name,
    nextPrompt: rule.prompt,
    language,
  };
};
