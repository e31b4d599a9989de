"""Les erreurs de dce : une racine unique, chaque erreur nomme le fichier, la ligne et le champ."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Probleme:
    """Un problème localisé dans un fichier fourni par l'utilisateur."""

    message: str
    fichier: str | Path | None = None
    ligne: int | None = None
    champ: str | None = None  # chemin technique (« lots.0.montant_estime ») : ancres, retour à la question
    libelle: str | None = None  # le même dit avec les mots du questionnaire (« Lot 1 — Montant estimé »)
    # pour une réponse : « manquante » (obligatoire, non donnée), « invalide » (valeur refusée : type, format,
    # bornes), « incoherence » (réponses valides une à une qui ne vont pas ensemble : dates, sommes)
    nature: str = ""

    def __str__(self) -> str:
        lieu = ""
        if self.fichier:
            lieu = str(self.fichier)
            if self.ligne:
                lieu += f", ligne {self.ligne}"
            lieu += " : "
        if self.libelle:
            return f"{lieu}{self.libelle} : {self.message}"
        champ = f"« {self.champ} » : " if self.champ else ""
        return f"{lieu}{champ}{self.message}"


class ErreurDCE(Exception):
    """Racine de toutes les erreurs que dce présente à l'utilisateur (code de sortie 2)."""

    def __init__(self, problemes: list[Probleme] | Probleme | str):
        if isinstance(problemes, str):
            problemes = [Probleme(problemes)]
        elif isinstance(problemes, Probleme):
            problemes = [problemes]
        self.problemes = problemes
        super().__init__("\n".join(str(p) for p in problemes))


class ErreurDonnees(ErreurDCE):
    """Fichier de réponses, profil d'acheteur ou catalogue invalide."""


class ErreurClause(ErreurDCE):
    """Une clause du catalogue ne peut pas être rendue."""


# Dépendances lourdes qui ne servent qu'à une fonction : options de pyproject.toml (module importé → option)
OPTIONS = {"matplotlib": "bilan", "pypandoc": "import"}


def option_manquante(exc: ModuleNotFoundError, usage: str) -> ErreurDCE:
    """Une option absente dite en français, avec la commande qui l'installe ; l'erreur d'origine sinon."""
    module = (exc.name or "").partition(".")[0]
    if module not in OPTIONS:
        raise exc
    option = OPTIONS[module]
    return ErreurDCE(Probleme(f"{usage} demande l'option « {option} » de dce ({module} n'est pas installé) : "
                              f"pip install \"dce[{option}]\" (depuis le dépôt : pip install -e \".[{option}]\")"))
