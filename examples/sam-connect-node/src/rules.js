// The function Connect's Invoke block calls, in the style of the public Amazon Connect rules engine:
// the contact comes in the event, the rule that matches the caller decides the next prompt, and the
// answer is a flat map of strings (the block's STRING_MAP validation).
const rules = require("./rules.json");

exports.handler = async (event, context) => {
  const contact = event.Details.ContactData;
  const caller = (contact.CustomerEndpoint && contact.CustomerEndpoint.Address) || "anonymous";
  const rule = rules.find((r) => caller.endsWith(r.callerEndsWith)) || rules[rules.length - 1];
  console.log(`contact ${contact.ContactId} from ${caller}: rule ${rule.name}`);
  return {
    version: context.functionVersion,
    greeting: `${process.env.GREETING}, caller ${caller.slice(-4)}`,
    rule: rule.name,
    nextPrompt: rule.prompt,
  };
};
