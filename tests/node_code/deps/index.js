import isNumber from "is-number";

export const handler = async (event) => ({ numeric: isNumber(event.value), value: String(event.value) });
