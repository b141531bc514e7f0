"""What the channel itself says on a call, in Swedish and English (the message comes from the engine)."""

from __future__ import annotations

import attrs

__all__ = ["EN", "SV", "Words", "words_for"]


@attrs.frozen
class Words:
    """The channel's own sentences in one language.

    Attributes:
        tts: the text-to-speech language tag (``sv-SE``).
        acknowledged: after key 1.
        declined: after key 2.
        goodbye: after a key on a call that asks nothing (a "for your information" call).
        invalid: after a key that means nothing; the keys are explained again.
        fallback: said instead of the message when the channel no longer knows it (a restart mid-call).
    """

    tts: str
    acknowledged: str
    declined: str
    goodbye: str
    invalid: str
    fallback: str


SV = Words(
    tts="sv-SE",
    acknowledged="Tack. Du har tagit ärendet.",
    declined="Tack. Vi går vidare till nästa person.",
    goodbye="Tack. Hej då.",
    invalid="Det valet finns inte. Tryck 1 om du tar ärendet, 2 om du inte kan, stjärna för att höra meddelandet igen.",
    fallback="Det här är ett larm som behöver ditt svar. Tryck 1 om du tar ärendet, 2 om du inte kan.",
)

EN = Words(
    tts="en-GB",
    acknowledged="Thank you. The case is yours.",
    declined="Thank you. We will move on to the next person.",
    goodbye="Thank you. Goodbye.",
    invalid="That is not an option. Press 1 to take it, 2 if you can't, star to hear this message again.",
    fallback="This is an alert that needs your answer. Press 1 to take it, 2 if you can't.",
)


def words_for(locale: str) -> Words:
    """The sentences for ``locale``: English for ``"en"``, Swedish for everything else."""
    return EN if locale == "en" else SV
