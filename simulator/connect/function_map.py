"""Which function each Invoke block calls in the rehearsal's world: the ARN (or placeholder) a flow
names, mapped to a function and qualifier of the stack, never silently to another one.

A user's exported flows name their own account's ARNs and often deployment placeholders
(`{{lambdaFunctions.X.arn}}`). Rules, in order:
1. the whole string in the scenario's `[function_map]` table (an ARN or a placeholder);
2. the named function's name in the table (its qualifier from the table, else the block's);
3. the function the deployment shifts, under its alias or one the stack lacks, any account or region:
   its alias;
4. with the stack known (local target), a function it declares, under a qualifier it has, in the
   stack's region and account; with the stack unknown (AWS), the ARN as named.
Anything else is refused, with what to add to the table. An ARN without a qualifier invokes $LATEST,
as Lambda has it. A block naming the deployed function's code ($LATEST, a version) or another alias
of the stack calls that, in production and here: the deployment never shifts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator.deployment.arn import VERSION, ArnError, function_arn, parse_alias_arn, parse_function_name


class UnmappedFunction(ValueError):
    """A block's LambdaFunctionARN that the rehearsal cannot serve; the message says why."""


@dataclass(frozen=True)
class FunctionMap:
    region: str
    account: str
    deployed: str | None = None  # the alias ARN the deployment shifts
    table: Mapping[str, str] = field(default_factory=dict)  # ARN, placeholder or name -> "Name[:qualifier]"
    stack: Mapping[str, frozenset[str]] | None = None  # function -> its qualifiers; None: not known (AWS)

    def resolve(self, named: str) -> str:
        """The qualified ARN a block naming `named` invokes, or UnmappedFunction."""
        if named in self.table:
            return self._mapped(named, self.table[named], None)
        try:
            ref = parse_function_name(named)
        except ArnError:
            raise UnmappedFunction("is not a function ARN (a placeholder or a JSONPath?) and is not in the "
                                   "scenario's [function_map]: map it to one of the stack's functions") from None
        if ref.name in self.table:
            return self._mapped(named, self.table[ref.name], ref.qualifier)
        if self.deployed is not None and self._stands_for_deployed(ref.name, ref.qualifier):
            return self.deployed
        if self.stack is None:
            try:
                parse_alias_arn(named)
            except ArnError as exc:
                raise UnmappedFunction(str(exc)) from None
            return named
        return self._in_stack(ref.name, ref.qualifier, "")

    def _stands_for_deployed(self, name: str, qualifier: str | None) -> bool:
        """Rule 3: the deployed function under its alias, or under an alias the stack lacks (another
        environment's name for it); never under code ($LATEST, a version) or another alias it has."""
        assert self.deployed is not None
        deployed = parse_alias_arn(self.deployed)
        if deployed.name != name or pins_code(qualifier):
            return False
        return qualifier == deployed.qualifier or self.stack is None or qualifier not in self.stack.get(name, ())

    def _mapped(self, named: str, value: str, qualifier: str | None) -> str:
        name, _, mapped_qualifier = value.partition(":")
        return self._in_stack(name, mapped_qualifier or qualifier, f" (mapped by [function_map] to {value!r})")

    def _in_stack(self, name: str, qualifier: str | None, how: str) -> str:
        if self.stack is not None:
            if name not in self.stack:
                raise UnmappedFunction(f"names function {name!r}{how}, which the scenario does not declare: add "
                                       "it to [[functions]] or map the ARN in [function_map]")
            qualifier = qualifier or "$LATEST"  # Lambda's rule for an unqualified ARN
            if qualifier not in self.stack[name]:
                raise UnmappedFunction(f"needs a qualifier of {name!r}{how} that the stack has (one of "
                                       f"{', '.join(sorted(self.stack[name])) or 'none'}), not {qualifier!r}")
        if qualifier is None:
            raise UnmappedFunction(f"names {name!r}{how} without a qualifier: Connect invokes an alias or a version")
        return function_arn(self.region, self.account, name, qualifier)


def pins_code(qualifier: str | None) -> bool:
    """A qualifier that names code rather than an alias: none ($LATEST), $LATEST or a version. A
    block calling the deployed function so is never shifted by its deployment."""
    return qualifier is None or qualifier == "$LATEST" or VERSION.match(qualifier) is not None
