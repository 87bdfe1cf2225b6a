"""What every named endpoint is made of: hidden inputs that the "Use via API" page describes.

The image studio's endpoints (api.py), the interventions' (surgery/api.py) and the Textures
tab's (textures/api.py) all build their hidden components from these, so the page reads the
same for every endpoint: a description and a real example for each parameter.
"""
from __future__ import annotations

from ._gradio import gr


class ApiText(gr.Textbox):
    """A text input of the API that the "Use via API" page describes and gives an example for
    (Gradio's own Textbox shows "Hello!!" and no description). In the page it is a Textbox
    (is_template: the block keeps its parent's name)."""

    is_template = True
    api_description, api_example = "", ""       # set by `described` (Gradio's config reads __init__)

    def api_info(self) -> dict[str, str]:
        return {"type": "string", "additional_description": self.api_description}

    def example_inputs(self) -> str:
        return self.api_example


class ApiNumber(gr.Number):
    """A number input of the API, described, with an example; `whole`: typed as an integer on the
    API page and in gradio_client, yet passed to the handler as sent (precision=0 would round 1.5
    to 2 silently; our checks refuse it)."""

    is_template = True
    api_description, api_example, whole = "", 0, False

    def api_info(self) -> dict[str, str]:
        return {"type": "integer" if self.whole else "number", "additional_description": self.api_description}

    def example_inputs(self) -> float:
        return self.api_example

    def example_payload(self) -> float:
        return self.api_example

    def example_value(self) -> float:
        return self.api_example


def described(component, description: str, example, whole: bool = False):
    """An ApiText or ApiNumber with its API description and example (and integer typing)."""
    component.api_description, component.api_example, component.whole = description, example, whole
    return component


def hidden_buttons(n: int) -> list:
    """The invisible buttons whose clicks carry the named endpoints (inside a hidden gr.Column)."""
    return [gr.Button(visible=False) for _ in range(n)]
