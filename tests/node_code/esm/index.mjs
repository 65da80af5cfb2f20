export const handler = async (event, context) => ({ esm: true, n: event.n, version: context.functionVersion });
