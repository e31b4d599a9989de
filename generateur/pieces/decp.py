"""Données essentielles (DECP 2.0.3) de la consultation : un enregistrement « marche » par lot, prêt à compléter.

Chaque lot est un marché, déclaré à part. L'export ne contient que ce que le dossier fixe avant l'attribution
(objet, CPV, procédure, CCAG, durée, forme et variation des prix, considérations sociales et environnementales du
lot…), dans la forme et le vocabulaire du schéma officiel (`decp_schema/schema-decp-v2.0.3.json`, copie inchangée,
voir `decp_schema/SOURCES.md`) ; les correspondances entre réponses et libellés du schéma sont des données
(`decp_schema/correspondances.yaml`). Les champs obligatoires que seule l'attribution fait connaître (titulaires,
montant, dates, offres reçues…) sont absents : l'acheteur les ajoute, et `a_completer` dit lesquels.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..donnees import cache
from ..donnees.fichiers import json_lisible
from ..erreurs import ErreurDonnees, Probleme
from ..droit.regles import Analyse
from ..droit.spaser import considerations_decp_par_lot

DOSSIER = Path(__file__).with_name("decp_schema")
SCHEMA = DOSSIER / "schema-decp-v2.0.3.json"
LONGUEUR_ID = 16  # IdentifiantMarche : 1 à 16 caractères
LONGUEUR_OBJET = 1000
ID_A_EVITER = re.compile(r"""[&"\\<\s,;]""")
SEPARATEURS = re.compile(r"[^0-9A-Za-z]")  # retirés de la référence quand l'identifiant serait trop long
SIRET = re.compile(r"^[0-9]{14}$")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def correspondances() -> dict[str, Any]:
    """La table des correspondances, lue par PyYAML puis gardée dans le cache disque sous l'empreinte du fichier et de
    la version de PyYAML : une commande dont tout est en cache n'importe pas PyYAML."""
    octets = (DOSSIER / "correspondances.yaml").read_bytes()

    def lire() -> dict[str, Any]:
        import yaml

        return yaml.safe_load(octets.decode("utf-8"))

    return cache.objet("yaml", cache.empreinte("correspondances DECP", octets, cache.version_paquet("yaml")), lire,
                       garder=64)


def libelle_ccag(code: str) -> str:
    """« FCS » → « Fournitures courantes et services » (valeur du champ ccag du schéma)."""
    return correspondances()["ccag"].get(code, "Pas de CCAG")


def forme_schema(considerations: dict[str, list[str]]) -> dict[str, Any]:
    """{"considerationsSociales": [...]} → {"considerationsSociales": {"considerationSociale": [...]}, …}."""
    return {"considerationsSociales": {"considerationSociale": considerations["considerationsSociales"]},
            "considerationsEnvironnementales": {
                "considerationEnvironnementale": considerations["considerationsEnvironnementales"]}}


def considerations_par_lot(analyse: Analyse) -> list[dict[str, Any]]:
    """Considérations de chaque lot, dans la forme du schéma : [{"lot": 1, "considerationsSociales": {…}, …}]."""
    return [{"lot": numero, **forme_schema(valeurs)} for numero, valeurs in considerations_decp_par_lot(analyse).items()]


def identifiant(analyse: Analyse, numero: int) -> str:
    """Identifiant du marché (IdentifiantMarche du schéma : 1 à 16 caractères, sans caractère déconseillé).

    Règle : la référence de la consultation, suivie de « -L<n> » pour le lot n (« 2026-FCS-0213-L1 ») ; si c'est
    trop long ou déconseillé, la même sans ses séparateurs, seuls les lettres et chiffres restant
    (« AMP-2026-EV-041 », lot 1 → « AMP2026EV041L1 ») ; si c'est encore trop long, la génération s'arrête : jamais
    d'identifiant omis en silence."""
    reference, allotie = str(analyse.contexte["reference"]), bool(analyse.contexte["allotie"])
    ident = f"{reference}-L{numero}" if allotie else reference
    if len(ident) <= LONGUEUR_ID and not ID_A_EVITER.search(ident):
        return ident
    compact = SEPARATEURS.sub("", reference) + (f"L{numero}" if allotie else "")
    if 1 <= len(compact) <= LONGUEUR_ID:
        return compact
    raise ErreurDonnees(Probleme(
        f"« Référence de la consultation » « {reference} » : l'identifiant du marché{f' du lot {numero}' if allotie else ''} "
        f"dans les données essentielles (DECP 2.0.3) compte au plus {LONGUEUR_ID} caractères ; même sans ses "
        f"séparateurs, « {compact} » en compte {len(compact)}. Raccourcir la référence de la consultation.",
        analyse.reponses.fichier, analyse.reponses.document.ligne("reference"), "reference",
        "Référence de la consultation"))


def marches(analyse: Analyse) -> list[dict[str, Any]]:
    """Un enregistrement « marche » du schéma DECP 2.0.3 par lot, avec les seuls champs connus avant attribution."""
    ctx = analyse.contexte
    table = correspondances()
    considerations = considerations_decp_par_lot(analyse)
    siret = str(analyse.acheteur.profil.get("siret") or "").replace(" ", "")
    objet = " ".join(str(ctx["objet"]).split())
    resultat = []
    for lot in ctx["lots"]:
        numero = lot["numero"]
        marche: dict[str, Any] = {}
        marche["id"] = identifiant(analyse, numero)
        if SIRET.match(siret):
            marche["acheteur"] = {"id": siret}
        intitule = " ".join(str(lot["intitule"]).split())
        marche.update({
            "nature": table["nature"],
            "objet": (f"{objet} – Lot {numero} : {intitule}" if ctx["allotie"] else objet)[:LONGUEUR_OBJET],
            "codeCPV": str(lot.get("cpv") or ctx["cpv"]),
            "techniques": {"technique": table["techniques"][ctx["forme"]]},
            "modalitesExecution": {"modaliteExecution": table["modalites_execution"][ctx["forme"]]},
            "ccag": libelle_ccag(ctx["ccag"]),
            "procedure": lot.get("procedure_lot_libelle") or ctx["procedure_libelle"],
            "dureeMois": int(lot["duree_lot"]),
            "typesPrix": {"typePrix": table["types_prix"][
                "ferme_actualisable" if ctx["variation_prix"] == "ferme" and ctx["actualisation"] else ctx["variation_prix"]]},
            "formePrix": table["forme_prix"][ctx["prix"]["forme"]],
            **forme_schema(considerations[numero]),
        })
        accord_cadre = str((ctx.get("accord_cadre_initial") or {}).get("reference") or "")
        if ctx["procedure"] == "marche_subsequent" and accord_cadre and len(accord_cadre) <= LONGUEUR_ID \
                and not ID_A_EVITER.search(accord_cadre):
            marche["idAccordCadre"] = accord_cadre
        resultat.append(marche)
    return resultat


def a_completer(marche: dict[str, Any]) -> list[str]:
    """Champs obligatoires du schéma absents de l'enregistrement : l'acheteur les ajoute après attribution."""
    return [champ for champ in schema()["definitions"]["marche"]["required"] if champ not in marche]


def nom_fichier(base: str, numero: int, allotie: bool) -> str:
    return f"{base}-DECP-lot-{numero}.json" if allotie else f"{base}-DECP.json"


def contenus(analyse: Analyse, base: str) -> dict[str, bytes]:
    """Les fichiers DECP de la consultation, en mémoire : un document {"marches": {"marche": [...]}} par lot."""
    allotie = bool(analyse.contexte["allotie"])
    return {nom_fichier(base, lot["numero"], allotie): json_lisible({"marches": {"marche": [marche]}})
            for lot, marche in zip(analyse.contexte["lots"], marches(analyse))}
