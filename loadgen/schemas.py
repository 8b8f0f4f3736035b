"""Request bodies of the control API (the seeds' field names), validated by pydantic so bad input gets a 422 naming the field."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Router = Literal["kv", "round-robin", "ab"]
ROUTERS: tuple[str, ...] = ("kv", "round-robin", "ab")
MAX_RPS = 200.0
MAX_CONCURRENCY = 1000
# The booth's default opening: a real document or source file of ~7k tokens (what KV routing is for).
DEFAULT_OPENING_TOKENS = 7000
MIN_OPENING_TOKENS = 256
FOLLOWUP_TOKENS = 48  # room for one short follow-up question plus its chat-template tokens
PROMPT_OVERHEAD_TOKENS = 120  # system prompt, opening instruction and template around the first message


class _Strict(BaseModel):
    # strict: "3" or true is not a rate; allow_inf_nan: NaN gets "Input should be a finite number".
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Mix(_Strict):
    """Share of requests per workload: a chat, b summarisation, c reasoning; must sum to 1."""

    a: float = Field(1.0, ge=0, le=1)
    b: float = Field(0.0, ge=0, le=1)
    c: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> Mix:
        total = self.a + self.b + self.c
        if abs(total - 1.0) > 0.01:
            raise ValueError(f"mix weights must sum to 1 (got {total:g})")
        return self


class TurnRange(_Strict):
    """Turns per chat conversation, drawn uniformly from [min, max]."""

    min: int = Field(2, ge=1, le=20)
    max: int = Field(4, ge=1, le=20)

    @model_validator(mode="after")
    def _ordered(self) -> TurnRange:
        if self.min > self.max:
            raise ValueError("turns.min must not exceed turns.max")
        return self

    @property
    def mean(self) -> float:
        return (self.min + self.max) / 2


class MsRange(_Strict):
    """Pause between chat turns in milliseconds, drawn uniformly from [min, max]."""

    min: int = Field(1000, ge=0, le=600_000)
    max: int = Field(3000, ge=0, le=600_000)

    @model_validator(mode="after")
    def _ordered(self) -> MsRange:
        if self.min > self.max:
            raise ValueError("thinkTimeMs.min must not exceed thinkTimeMs.max")
        return self


class WorkloadConfig(_Strict):
    """A complete workload configuration.

    totalRPS is the target rate of *requests* (chat turns plus single B/C requests) sent to the
    frontends. Chat conversations therefore start as a Poisson process at totalRPS * mix.a / mean
    turns; B and C requests arrive as Poisson processes at totalRPS * mix.b and totalRPS * mix.c.
    maxConcurrency caps active sessions (a conversation counts from its first request until its last
    reply, think time included); arrivals beyond it are skipped and counted. Side by side (router "ab")
    each router has half of it, so one frozen frontend cannot starve the other.
    """

    totalRPS: float = Field(2.0, ge=0, le=MAX_RPS)
    mix: Mix = Field(default_factory=Mix)
    maxConcurrency: int = Field(16, ge=1, le=MAX_CONCURRENCY)
    router: Router = "ab"
    turns: TurnRange = Field(default_factory=TurnRange)
    openingTokens: int | None = Field(DEFAULT_OPENING_TOKENS, ge=MIN_OPENING_TOKENS, le=64_000)
    thinkTimeMs: MsRange = Field(default_factory=MsRange)
    maxConversations: int | None = Field(None, ge=1, le=10_000_000)
    maxTokens: int = Field(256, ge=1, le=8192)

    def opening_tokens(self) -> int:
        """Opening length in tokens (null means the booth default)."""
        return self.openingTokens if self.openingTokens is not None else DEFAULT_OPENING_TOKENS

    def longest_prompt(self) -> int:
        """Prompt tokens of the last turn of the longest conversation: opening plus every earlier answer and question."""
        return self.opening_tokens() + PROMPT_OVERHEAD_TOKENS + (self.turns.max - 1) * (self.maxTokens + FOLLOWUP_TOKENS)

    def conversation_rate(self) -> float:
        """New chat conversations per second."""
        return self.totalRPS * self.mix.a / self.turns.mean

    def session_rates(self) -> dict[str, float]:
        """Poisson arrival rate per workload (conversations for chat, requests for B and C)."""
        return {
            "chat": self.conversation_rate(),
            "summarization": self.totalRPS * self.mix.b,
            "reasoning": self.totalRPS * self.mix.c,
        }


class WorkloadPatch(_Strict):
    """Partial update of WorkloadConfig: only the fields sent change."""

    totalRPS: float | None = Field(None, ge=0, le=MAX_RPS)
    mix: Mix | None = None
    maxConcurrency: int | None = Field(None, ge=1, le=MAX_CONCURRENCY)
    router: Router | None = None
    turns: TurnRange | None = None
    openingTokens: int | None = Field(None, ge=MIN_OPENING_TOKENS, le=64_000)
    thinkTimeMs: MsRange | None = None
    maxConversations: int | None = Field(None, ge=1, le=10_000_000)
    maxTokens: int | None = Field(None, ge=1, le=8192)

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"openingTokens", "maxConversations"})

    @model_validator(mode="after")
    def _no_null_for_required(self) -> WorkloadPatch:
        for key in sorted(self.model_fields_set - self.NULLABLE):
            if getattr(self, key) is None:
                raise ValueError(f"{key} must not be null")
        return self

    def apply_to(self, current: WorkloadConfig) -> WorkloadConfig:
        """Merge onto `current`; only the fields that were sent change."""
        data = current.model_dump()
        data.update(self.model_dump(exclude_unset=True))
        return WorkloadConfig.model_validate(data)

    def touches_load_shape(self) -> bool:
        """True when the patch changes what auto mode drives (rate, mix, concurrency, both routers side by side)."""
        return bool({"totalRPS", "mix", "maxConcurrency", "router"} & self.model_fields_set)
