"""Text generation parameters, as TGI takes them: the TGI service's defaults and the HF service's task 1 options."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GenerationParams(BaseModel):
    """Text generation parameters passed to every generate call (TGI's `parameters`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_new_tokens: int | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0)
    top_k: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    typical_p: float | None = Field(default=None, ge=0, le=1)
    repetition_penalty: float | None = Field(default=None, ge=0)
    frequency_penalty: float | None = None
    do_sample: bool | None = None
    seed: int | None = Field(default=None, ge=0)
    stop: list[str] | None = None
    return_full_text: bool | None = None
    truncate: int | None = Field(default=None, ge=0)
    watermark: bool | None = None
    best_of: int | None = Field(default=None, ge=1)
    top_n_tokens: int | None = Field(default=None, ge=0)
    decoder_input_details: bool | None = None
    adapter_id: str | None = None
    grammar: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _stop_sequences(cls, data: Any) -> Any:
        """Accept `stop_sequences` (the older name, used by the HF service's inputs) for `stop`."""
        if isinstance(data, dict) and "stop_sequences" in data:
            data = dict(data)
            sequences = data.pop("stop_sequences")
            data.setdefault("stop", sequences)
        return data

    def kwargs(self) -> dict[str, Any]:
        """The set parameters, as keyword arguments of `AsyncInferenceClient.text_generation`."""
        return self.model_dump(exclude_none=True)
