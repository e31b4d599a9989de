"""Contrôles juridiques d'une consultation : contrôles (données de catalogue.yaml) → verdicts.

Les contrôles sont écrits par le service juridique dans la section `controles` de catalogue.yaml :
conditions d'application et de conformité en expressions Jinja évaluées dans le bac à sable,
messages en modèles Jinja. Ce module n'établit que des faits (clauses retenues, critères, considérations DECP…), reçoit ceux que
la couche des pièces a lus dans les pièces assemblées (lots présentés, dérogations récapitulées), et applique
les contrôles ; il ne contient aucune règle de droit et ne connaît ni les blocs ni le Word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template

from ..erreurs import ErreurDonnees, Probleme
from .expressions import ENV_EXPRESSIONS, ErreursJinja, evaluer, message_erreur
from .regles import Analyse
from .spaser import considerations_decp

STATUTS = {
    "conforme": "Conforme",
    "non_conforme": "Non conforme",
    "a_verifier": "À vérifier",
    "justifie": "Justifié",
    "sans_objet": "Sans objet",
}
CHAMPS = {"id", "libelle", "articles", "obligatoire", "statut", "note", "applicable", "conforme", "justification",
          "messages"}
OBLIGATOIRES = ("id", "libelle", "articles", "obligatoire", "applicable", "conforme", "messages")
EXECUTION = ("CCAP", "CCTP")  # pièces qui portent les conditions d'exécution


@dataclass
class Verdict:
    """Le résultat d'un contrôle pour une consultation."""

    id: str
    libelle: str
    articles: list[str]
    obligatoire: bool
    statut: str
    message: str
    statut_juridique: str = "verifie"
    note: str = ""

    @property
    def libelle_statut(self) -> str:
        return STATUTS[self.statut]

    @property
    def bloquant(self) -> bool:
        return self.statut == "non_conforme"


@dataclass
class Conformite:
    """Verdicts d'une consultation et faits sur lesquels ils reposent."""

    verdicts: list[Verdict]
    faits: dict[str, Any]

    @property
    def bloquants(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.bloquant]

    @property
    def a_verifier(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.statut == "a_verifier"]

    def compte(self, statut: str) -> int:
        return sum(1 for v in self.verdicts if v.statut == statut)

    def resume(self) -> dict[str, Any]:
        """Résumé pour le manifeste et le terminal."""
        return {
            "controles": len(self.verdicts),
            **{statut: self.compte(statut) for statut in STATUTS},
            "obligations_non_respectees": [v.id for v in self.bloquants],
            "controles_a_verifier": [v.id for v in self.a_verifier],
        }


def normaliser(valeur: Any) -> str:
    """Espaces, tabulations et retours à la ligne réduits à une espace ; les espaces insécables restent."""
    return re.sub(r"[ \t\r\n]+", " ", str(valeur)).strip()


def dernier_article(analyse: Analyse, document: str) -> dict[str, Any]:
    plan = analyse.plans.get(document) or []
    if not plan:
        return {"numero": "", "id": "", "titre": ""}
    numero, article, _ = plan[-1]
    return {"numero": str(numero), "id": str(article["id"]), "titre": str(article["titre"])}


def _clauses_portant(analyse: Analyse, valeurs: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"id": s.clause.id, "document": s.clause.document, "article": s.numero, "titre": s.clause.titre,
             "version": s.clause.version}
            for doc in EXECUTION for s in analyse.retenues(doc) if any(v in s.clause.decp for v in valeurs)]


def faits(analyse: Analyse, pieces: dict[str, Any]) -> dict[str, Any]:
    """Faits établis sur la consultation, et ceux que la couche des pièces a lus dans les pièces assemblées
    (`pieces` : lots présentés par pièce, lignes divergentes, dérogations récapitulées), exposés aux
    expressions des contrôles."""
    ctx = analyse.contexte
    criteres = list(ctx.get("criteres") or [])
    lots = ctx["lots"]
    incoherents = [str(c["intitule"]) for c in criteres if c.get("sous_criteres")
                   and abs(sum(s.get("ponderation") or 0 for s in c["sous_criteres"]) - (c.get("ponderation") or 0)) > 1e-6]
    par_piece = pieces["lots_par_piece"]
    return {
        "clauses_retenues": [s.clause.id for s in analyse.retenues()],
        "clauses_environnementales": _clauses_portant(analyse, ("Clause environnementale",)),
        "clauses_sociales": _clauses_portant(analyse, ("Clause sociale", "Marché réservé")),
        "decp": considerations_decp(analyse),
        "criteres_environnementaux": [c for c in criteres if c.get("type") == "environnemental"],
        "criteres_sociaux": [c for c in criteres if c.get("type") == "social"],
        "ponderation_totale": round(sum(c.get("ponderation") or 0 for c in criteres), 6),
        "sous_criteres_incoherents": incoherents,
        "lots_numeros": sorted(l["numero"] for l in lots),
        "lots_par_piece": par_piece,
        "lots_rc": par_piece.get("RC", []),
        "lots_ccap": par_piece.get("CCAP", []),
        "lots_cctp": par_piece.get("CCTP", []),
        "lots_divergents": pieces["lots_divergents"],
        "derogations": pieces["derogations"],
        "dernier_article_ccap": dernier_article(analyse, "CCAP"),
    }


def definitions(analyse: Analyse) -> list[dict[str, Any]]:
    """Section `controles` de catalogue.yaml, vérifiée ; erreurs avec fichier et ligne."""
    cat = analyse.catalogue
    brut = (cat.document_yaml.donnees or {}).get("controles") or []
    problemes: list[Probleme] = []

    def pb(message: str, chemin: str) -> None:
        problemes.append(Probleme(message, cat.fichier, cat.document_yaml.ligne(chemin), chemin))

    if not isinstance(brut, list):
        pb("la section doit être une liste de contrôles", "controles")
        raise ErreurDonnees(problemes)
    vus: set[str] = set()
    for i, c in enumerate(brut):
        chemin = f"controles.{i}"
        if not isinstance(c, dict):
            pb("un contrôle doit être un dictionnaire", chemin)
            continue
        for champ in sorted(set(c) - CHAMPS):
            pb("champ inconnu", f"{chemin}.{champ}")
        for champ in OBLIGATOIRES:
            if c.get(champ) in (None, "", []):
                pb("champ obligatoire manquant", f"{chemin}.{champ}" if champ in c else chemin)
        if c.get("id") in vus:
            pb(f"contrôle « {c.get('id')} » en double", f"{chemin}.id")
        vus.add(str(c.get("id")))
        messages = c.get("messages") or {}
        for cle in sorted(set(messages) - set(STATUTS)):
            pb(f"message « {cle} » inconnu ({', '.join(STATUTS)})", f"{chemin}.messages.{cle}")
        for cle in ("conforme", "non_conforme"):
            if not messages.get(cle):
                pb("message obligatoire manquant", f"{chemin}.messages.{cle}" if messages else f"{chemin}.messages")
    if problemes:
        raise ErreurDonnees(problemes)
    return brut


@lru_cache(maxsize=512)
def _modele(message: str) -> Template:
    return ENV_EXPRESSIONS.from_string(message)


def verifier(analyse: Analyse, pieces: dict[str, Any]) -> Conformite:
    """Applique chaque contrôle du catalogue à la consultation ; `pieces` : faits lus dans les pièces
    assemblées (voir `faits`), fournis par la couche des pièces (generateur.pieces.lecture)."""
    etablis = faits(analyse, pieces)
    contexte = {**analyse.contexte, **etablis}
    cat = analyse.catalogue
    verdicts = []
    for i, c in enumerate(definitions(analyse)):
        def calculer(champ: str, cle: str | None = None) -> Any:
            chemin = f"controles.{i}.{champ}" + (f".{cle}" if cle else "")
            try:
                if cle is None:
                    return evaluer(str(c[champ]), contexte)
                return _modele(str(c[champ][cle])).render(contexte)
            except ErreursJinja as exc:
                raise ErreurDonnees(Probleme(f"contrôle « {c['id']} » : {champ}{' ' + cle if cle else ''} impossible à "
                                             f"évaluer : {message_erreur(exc)}", cat.fichier,
                                             cat.document_yaml.ligne(chemin), chemin)) from None

        if not calculer("applicable"):
            statut = "sans_objet"
        elif calculer("conforme"):
            statut = "conforme"
        elif c.get("justification") and normaliser(calculer("justification") or ""):
            statut = "justifie"
        else:
            statut = "non_conforme" if c["obligatoire"] else "a_verifier"
        messages = c["messages"]
        cle = statut if statut in messages else ("non_conforme" if statut == "a_verifier" else None)
        if cle:
            message = normaliser(calculer("messages", cle))
        elif statut == "justifie":
            message = f"Justification enregistrée\u00a0: «\u00a0{normaliser(calculer('justification'))}\u00a0»."
        else:
            message = ""
        articles = c["articles"] if isinstance(c["articles"], list) else [c["articles"]]
        verdicts.append(Verdict(str(c["id"]), normaliser(c["libelle"]), [str(a) for a in articles],
                                bool(c["obligatoire"]), statut, message, str(c.get("statut") or "verifie"),
                                normaliser(c.get("note") or "")))
    return Conformite(verdicts, etablis)
