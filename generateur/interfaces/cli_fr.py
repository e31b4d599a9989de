"""Messages de click en français (aide, usage, erreurs de ligne de commande)."""

from __future__ import annotations

import re
from typing import Any

import click
import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.termui
import click.types

TRADUCTIONS = {
    "%(prog)s, version %(version)s": "%(prog)s, version %(version)s",
    "Aborted!": "Interrompu.",
    "Commands": "Commandes",
    "Options": "Options",
    "Positional arguments": "Arguments",
    "Usage:": "Usage :",
    "Show the version and exit.": "Affiche la version et quitte.",
    "Show this message and exit.": "Affiche cette aide et quitte.",
    "Error: {message}": "Erreur : {message}",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "Missing command.": "Commande manquante.",
    "No such command {name!r}.": "Commande inconnue « {name} ».",
    "No such option {name!r}.": "Option inconnue « {name} ».",
    "Option {name!r} does not take a value.": "L'option « {name} » ne prend pas de valeur.",
    "Try '{command} {option}' for help.": "Essayer « {command} {option} » pour l'aide.",
    "default: {default}": "défaut : {default}",
    "{name} {filename!r} does not exist.": "{name} « {filename} » introuvable.",
    "{name} {filename!r} is a directory.": "{name} « {filename} » est un dossier.",
    "{name} {filename!r} is a file.": "{name} « {filename} » est un fichier.",
    "{name} {filename!r} is not readable.": "{name} « {filename} » illisible.",
    "{name} {filename!r} is not writable.": "{name} « {filename} » non modifiable.",
    "{value!r} is not a valid {number_type}.": "« {value} » n'est pas un nombre valide.",
    "{value} is not in the range {range}.": "{value} ne convient pas : {range} attendu.",
    "{name} {filename!r} is not executable.": "{name} « {filename} » non exécutable.",
    "Could not open file {filename!r}: {message}": "Impossible d'ouvrir le fichier « {filename} » : {message}",
    "Option {name!r} requires an argument.": "L'option « {name} » attend une valeur.",
    "Option {name!r} requires {nargs} arguments.": "L'option « {name} » attend {nargs} valeurs.",
    "Argument {name!r} takes {nargs} values.": "L'argument « {name} » attend {nargs} valeurs.",
    "Takes {nargs} values but 1 was given.": "{nargs} valeurs attendues, 1 donnée.",
    "Takes {nargs} values but {len} were given.": "{nargs} valeurs attendues, {len} données.",
    "{len_type} values are required, but {len_value} was given.": "{len_type} valeurs attendues, {len_value} donnée.",
    "{len_type} values are required, but {len_value} were given.":
        "{len_type} valeurs attendues, {len_value} données.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "« {value} » n'est pas une réponse oui / non. Valeurs reconnues : {states}",
    "{value!r} is not a valid UUID.": "« {value} » n'est pas un identifiant UUID valide.",
    "{value!r} does not match the format {format}.": "« {value} » ne suit pas le format {format}.",
    "{value!r} does not match the formats {formats}.": "« {value} » ne suit aucun des formats {formats}.",
    "Missing {param_type}": "Valeur manquante ({param_type})",
    "env var: {var}": "variable d'environnement : {var}",
    "Repeat for confirmation": "Confirmer",
    "Error: The two entered values do not match.": "Erreur : les deux saisies diffèrent.",
    "Error: invalid input": "Erreur : saisie invalide",
    "Do you want to continue?": "Continuer ?",
    "Confirm the action without prompting.": "Confirme l'action sans la demander.",
    "Press any key to continue...": "Appuyer sur une touche pour continuer…",
    "unknown error": "erreur inconnue",
    "(dynamic)": "(calculé)",
    "required": "obligatoire",
    "file": "Fichier",
    "directory": "Dossier",
    "path": "Chemin",
    "Choose from:\n\t{choices}": "Valeurs possibles :\n\t{choices}",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "Got unexpected extra argument ({args})": "Argument inattendu ({args})",
    "Got unexpected extra arguments ({args})": "Arguments inattendus ({args})",
}


def _(message: str) -> str:
    return TRADUCTIONS.get(message, message)


def _ngettext(singulier: str, pluriel: str, n: int) -> str:
    return _(singulier if n == 1 else pluriel)


# Nom d'un type de valeur, que l'aide montre en majuscules à côté d'une option sans `metavar` (« --hote TEXTE »).
NOMS_DES_TYPES = {
    click.types.StringParamType: "texte",
    click.types.IntParamType: "entier",
    click.types.IntRange: "entier",
    click.types.FloatParamType: "nombre",
    click.types.FloatRange: "nombre",
    click.types.BoolParamType: "oui/non",
}


def _intervalle(self: click.types._NumberRangeBase) -> str:  # type: ignore[type-arg]
    """Les valeurs admises d'une option numérique, dans l'aide (« [au moins 1] ») et dans l'erreur d'une valeur hors
    bornes, au lieu de « x>=1 »."""
    def borne(valeur: float, ouverte: bool) -> str:
        return f"{valeur} {'exclu' if ouverte else 'inclus'}"

    if self.min is None:
        return f"{'moins de' if self.max_open else 'au plus'} {self.max}"
    if self.max is None:
        return f"{'plus de' if self.min_open else 'au moins'} {self.min}"
    if not (self.min_open or self.max_open):
        return f"de {self.min} à {self.max}"
    return f"entre {borne(self.min, self.min_open)} et {borne(self.max, self.max_open)}"


_AIDE_DE_L_OPTION = click.Option.get_help_record


def _aide_de_l_option(self: click.Option, ctx: click.Context) -> tuple[str, str] | None:
    """L'aide d'une option, ses précisions entre crochets séparées par « ; » à la française (« [défaut : 8000 ; de 0
    à 65535] ») : click les joint par « ; » sans espace avant (l'espace devient insécable, voir `_Formateur`)."""
    aide = _AIDE_DE_L_OPTION(self, ctx)
    if aide is None or not aide[1].endswith("]"):
        return aide
    specification, texte = aide
    debut = texte.rfind("[")
    return specification, texte[:debut] + texte[debut:].replace("; ", " ; ")


def _guillemets(methode: Any) -> Any:
    """`get_error_hint` d'un paramètre, qui le nomme dans une erreur (« Valeur invalide pour « -j » / « --jobs » ») :
    entre guillemets français au lieu d'apostrophes, sa variable d'environnement en français (click l'écrit
    « (env var: …) » sans passer par sa traduction)."""
    def nommer(self: click.Parameter, ctx: click.Context | None) -> str:
        indice = re.sub(r"'([^']*)'", r"« \1 »", methode(self, ctx))
        return indice.replace("(env var: ", "(variable d'environnement : ")

    return nommer


def _possibilites(possibilites: list[str]) -> str:
    """Les commandes ou options proches d'une inconnue, proposées à la suite de l'erreur (« Vouliez-vous dire
    « generer » ou « regenerer » ? ») au lieu de « Did you mean one of: 'generer', 'regenerer'? »."""
    from ..donnees.formats import liste_fr  # seulement pour une erreur : pas au démarrage de chaque commande

    return f"Vouliez-vous dire {liste_fr((f'« {p} »' for p in sorted(possibilites)), 'ou')} ?"


def _choix_invalide(self: click.Choice, value: Any, ctx: click.Context | None) -> str:
    """Une valeur hors de la liste d'une option à choix (« « chef » ne fait pas partie des valeurs possibles :
    « acheteur », « juriste », « administrateur ». »)."""
    valeurs = ", ".join(f"« {v} »" for v in self.choices)
    return f"« {value} » ne fait pas partie des valeurs possibles : {valeurs}."


def installer() -> None:
    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.termui,
                   click.types):
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _ngettext  # type: ignore[attr-defined]
    for genre, nom in NOMS_DES_TYPES.items():
        genre.name = nom
    click.Option.get_help_record = _aide_de_l_option  # type: ignore[method-assign]
    for classe in (click.Parameter, click.Option, click.Argument):
        if "get_error_hint" in vars(classe):  # chacune la sienne (Option et Argument remplacent celle de Parameter)
            classe.get_error_hint = _guillemets(vars(classe)["get_error_hint"])  # type: ignore[method-assign]
    if hasattr(click.Choice, "get_invalid_choice_message"):  # click ≥ 8.2
        click.Choice.get_invalid_choice_message = _choix_invalide  # type: ignore[method-assign]
    if hasattr(click.exceptions, "_format_possibilities"):  # click 8 : seule source de « Did you mean »
        click.exceptions._format_possibilities = _possibilites  # type: ignore[attr-defined]
    base = getattr(click.types, "_NumberRangeBase", None)  # click 8 : seule source de « x>=1 »
    if base is not None and hasattr(base, "_describe_range"):
        base._describe_range = _intervalle  # type: ignore[method-assign]


# Espaces de la typographie française, avant « : », « ; », « ! », « ? » et le guillemet fermant, après le guillemet
# ouvrant : insécables dans l'aide, qui se replie à la largeur du terminal (aucune ligne ne commence par « : »)
_INSECABLES = re.compile(r" (?=[:;!?»])|(?<=«) ")


def _insecables(texte: str) -> str:
    return _INSECABLES.sub("\u00a0", texte)


class _Formateur(click.formatting.HelpFormatter):
    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading} :\n")

    def write_text(self, text: str) -> None:
        super().write_text(_insecables(text))

    def write_dl(self, rows: Any, *args: Any, **kwargs: Any) -> None:
        super().write_dl([(terme, _insecables(aide)) for terme, aide in rows], *args, **kwargs)


click.core.HelpFormatter = _Formateur  # type: ignore[attr-defined,misc]
click.Context.formatter_class = _Formateur
