"""Cadre de mémoire technique : une rubrique par critère ou sous-critère du RC, et le cadre de réponse
« Engagements sociaux et environnementaux » des clauses retenues.

Les rubriques suivent `criteres` des réponses, celles-là mêmes que le RC publie : changer un critère
change le cadre. `ecarts_avec_rc` vérifie que les rubriques d'un cadre (généré ou relu dans un
fichier Word) concordent avec les critères du RC. Les textes sont des données (modeles/memoire.yaml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from ..donnees import questionnaire, yaml_lignes
from .blocs import Bloc, ElementListe, Liste, Paragraphe, Segment, Tableau, Titre
from ..erreurs import ErreurDonnees, Probleme
from ..droit.expressions import ENV_EXPRESSIONS, ErreursJinja, evaluer, message_erreur
from ..donnees.formats import liste_fr, pourcent
from ..droit.regles import Analyse

NON_REDIGES = ("prix", "cout")  # jugés sur le bordereau ou le cadre de coût, pas dans le mémoire
TITRE = "Cadre de mémoire technique"
TITRE_ENGAGEMENTS = "Cadre de réponse « Engagements sociaux et environnementaux »"
REPONSE = "\n" * 7


@dataclass(frozen=True)
class Rubrique:
    """Une rubrique notée du cadre : un critère sans sous-critère, ou un sous-critère."""

    critere: str
    intitule: str
    ponderation: float


@lru_cache(maxsize=4)
def _textes(fichier: Path) -> dict[str, Any]:
    doc = yaml_lignes.lire(fichier, garder=True)
    donnees = doc.donnees if isinstance(doc.donnees, dict) else {}
    if not isinstance(donnees.get("criteres"), dict) or not isinstance(donnees.get("engagements"), list):
        raise ErreurDonnees(Probleme("clés « criteres » et « engagements » attendues", fichier, 1))
    return donnees



def intitule_rubrique(intitule: Any) -> str:
    """Intitulé d'un critère tel que le titre de sa rubrique le porte : une précision finale entre parenthèses passe
    après un tiret, pour que le poids ajouté ne fasse pas de double parenthèse (« Performance environnementale –
    saisonnalité, emballages, transport »)."""
    texte = str(intitule).strip()
    m = re.fullmatch(r"(.*\S)\s*\(([^()]+)\)", texte)
    return f"{m.group(1)} – {m.group(2)}" if m else texte


def titre_pondere(intitule: Any, ponderation: Any) -> str:
    """Titre d'une rubrique : intitulé du critère (`intitule_rubrique`) et son poids, « Prix (40 %) »."""
    return f"{intitule_rubrique(intitule)} ({pourcent(ponderation)})"

def rubriques_attendues(criteres: list[dict[str, Any]]) -> list[Rubrique]:
    """Rubriques qu'impose la liste des critères du RC, dans son ordre."""
    rubriques = []
    for c in criteres:
        if c["type"] in NON_REDIGES:
            continue
        sous = c.get("sous_criteres") or []
        if sous:
            rubriques += [Rubrique(intitule_rubrique(c["intitule"]), intitule_rubrique(s["intitule"]),
                                   float(s["ponderation"])) for s in sous]
        else:
            rubriques.append(Rubrique(intitule_rubrique(c["intitule"]), intitule_rubrique(c["intitule"]),
                                      float(c["ponderation"])))
    return rubriques


def ecarts_avec_rc(analyse: Analyse, rubriques: list[Rubrique] | None = None) -> list[str]:
    """Écarts entre les rubriques d'un cadre et les critères du RC ; liste vide s'ils concordent.

    Sans `rubriques`, relit les titres du cadre que dce rédige pour cette consultation ; pour un cadre
    déjà écrit, passer `rubriques_lues(chemin)`.
    """
    attendues = rubriques_attendues(analyse.contexte["criteres"])
    if rubriques is None:
        blocs, _ = blocs_cadre(analyse)
        rubriques = rubriques_des_titres((b.niveau, b.texte) for b in blocs if isinstance(b, Titre))
    ecarts = []
    par_intitule = {r.intitule: r for r in rubriques}
    for r in attendues:
        present = par_intitule.get(r.intitule)
        if present is None:
            ecarts.append(f"le critère « {r.intitule} » du RC n'a pas de rubrique dans le cadre de mémoire")
        elif present.ponderation != r.ponderation:
            ecarts.append(f"rubrique « {r.intitule} » pondérée à {pourcent(present.ponderation)} dans le cadre "
                          f"de mémoire, à {pourcent(r.ponderation)} dans le RC")
    noms = {r.intitule for r in attendues}
    ecarts += [f"la rubrique « {p.intitule} » du cadre de mémoire ne correspond à aucun critère du RC"
               for p in rubriques if p.intitule not in noms]
    if not ecarts and [r.intitule for r in rubriques] != [r.intitule for r in attendues]:
        ecarts.append("les rubriques du cadre de mémoire ne suivent pas l'ordre des critères du RC")
    return ecarts


_TITRE_RUBRIQUE = re.compile(r"^(?:Article )?\d+(?:\.\d+)?\s*– (.*) \((\d+(?:,\d+)?)\s?%\)$")


def rubriques_des_titres(titres: Iterable[tuple[int, str]]) -> list[Rubrique]:
    """Rubriques notées d'après les titres d'un cadre : « Article 2 – Critère (45 %) », « 2.1 – Sous-critère (25 %) ».

    Un critère suivi de sous-critères est noté par ses sous-critères ; les titres sans pondération
    (mode d'emploi, engagements) ne sont pas des rubriques notées.
    """
    rubriques: list[Rubrique] = []
    critere: Rubrique | None = None
    for niveau, texte in titres:
        m = _TITRE_RUBRIQUE.match(texte.replace("\u00a0", " ").replace("\u202f", " "))
        if niveau == 1:
            critere = Rubrique(m.group(1), m.group(1), _nombre(m.group(2))) if m else None
            if critere:
                rubriques.append(critere)
        elif niveau == 2 and m and critere:
            if critere in rubriques:
                rubriques.remove(critere)
            rubriques.append(Rubrique(critere.critere, m.group(1), _nombre(m.group(2))))
    return rubriques


def _nombre(texte: str) -> float:
    return float(texte.replace(",", "."))


def rubriques_lues(chemin: Path) -> list[Rubrique]:
    """Rubriques notées d'un cadre de mémoire écrit, relues avec python-docx."""
    from docx import Document

    titres = []
    for p in Document(str(chemin)).paragraphs:
        style = (p.style.name if p.style is not None else "").lower()
        if style in ("heading 1", "heading 2"):
            titres.append((int(style[-1]), p.text))
    return rubriques_des_titres(titres)


# -- rédaction

def _contexte(analyse: Analyse) -> dict[str, Any]:
    q = questionnaire.charger(analyse.catalogue.racine / "questionnaire.yaml")

    def choix(question: str, cle: str) -> str:
        definition = q.question(question)
        return definition.choix.get(cle, cle) if definition else cle

    def retenue(ident: str) -> bool:
        s = analyse.selection(ident)
        return bool(s and s.retenue)

    return {**analyse.contexte, "choix": choix, "retenue": retenue, "article": lambda ident: renvoi(analyse, ident)}


def renvoi(analyse: Analyse, ident: str) -> str:
    """« l'article 6.2 du CCAP » pour une clause retenue, chaîne vide sinon."""
    s = analyse.selection(ident)
    return f"l'article {s.numero} du {s.clause.document}" if s and s.retenue and s.numero else ""


@lru_cache(maxsize=512)
def _modele(texte: str) -> Any:
    """Le modèle Jinja d'un texte de modeles/memoire.yaml, compilé une fois par processus (les mêmes textes
    reviennent à chaque consultation) ; une erreur de syntaxe n'est pas gardée : elle se redit à chaque rendu."""
    return ENV_EXPRESSIONS.from_string(texte)


def _rendre(texte: str, contexte: dict[str, Any], fichier: Path) -> str:
    try:
        return _modele(texte).render(contexte)
    except ErreursJinja as exc:
        raise ErreurDonnees(Probleme(f"texte « {texte[:60]}… » impossible à rendre : {message_erreur(exc)}",
                                     fichier)) from None


def _puces(textes: list[str]) -> Liste:
    return Liste(False, [ElementListe([Segment(t)]) for t in textes])


def _cadre_reponse(libelle: str = "Réponse du candidat") -> Tableau:
    """Case à remplir : une seule ligne de tableau, qui ne se coupe pas d'une page à l'autre."""
    return Tableau([[[Segment(libelle, gras=True), Segment(REPONSE),
                      Segment("Documents joints auxquels la réponse renvoie (intitulé, pages)\u00a0:", italique=True)]]],
                   False, [100])


def _titre(niveau: int, numero: str, texte: str) -> Titre:
    if niveau == 1:
        return Titre(1, f"Article {numero} – {texte}", f"_Toc_art_{numero}")
    return Titre(2, f"{numero}\u00a0– {texte}", f"_Toc_art_{numero.replace('.', '_')}")


def blocs_cadre(analyse: Analyse) -> tuple[list[Bloc], list[Titre]]:
    """Corps du cadre de mémoire technique et entrées de son sommaire."""
    fichier = analyse.catalogue.modeles() / "memoire.yaml"
    textes = _textes(fichier)
    ctx = analyse.contexte
    contexte = _contexte(analyse)
    blocs: list[Bloc] = []
    titres: list[Titre] = []

    def titre(niveau: int, numero: str, texte: str) -> None:
        t = _titre(niveau, numero, texte)
        blocs.append(t)
        titres.append(t)

    criteres = [c for c in ctx["criteres"] if c["type"] not in NON_REDIGES]
    autres = [c for c in ctx["criteres"] if c["type"] in NON_REDIGES]
    article_rc = renvoi(analyse, "rc-criteres").replace(" du RC", " du règlement de la consultation (RC)")
    titre(1, "1", "Objet et mode d'emploi du cadre")
    blocs.append(Paragraphe([Segment(
        f"Le présent cadre fait partie du dossier de la consultation {ctx['reference']}. Le candidat le complète et le "
        f"joint à son offre{', pour chaque lot auquel il répond' if ctx['allotie'] else ''} : il constitue son mémoire "
        f"technique. Ses rubriques reprennent les critères et sous-critères de jugement des offres fixés à "
        f"{article_rc or 'l’article du RC relatif au jugement des offres'}, avec leur pondération ; chaque réponse "
        f"est notée dans la rubrique où elle figure.")]))
    blocs.append(Paragraphe([Segment(
        "Le candidat répond à chaque rubrique, de façon précise et vérifiable. Il peut joindre les documents "
        "auxquels il renvoie expressément (fiches techniques, attestations, certificats) ; les éléments qui ne "
        "figurent ni dans le cadre ni dans ces documents ne sont pas pris en compte. Les engagements pris dans le "
        "mémoire ont valeur contractuelle.")]))
    # le prix est jugé sur le montant que fixe aussi le RC (calcul montant_jugement_prix : une seule source) ; le
    # coût, sur les données de coût (RC, méthode de notation)
    for groupe, sur in (([c for c in autres if c["type"] == "prix"], ctx["montant_jugement_prix"]),
                        ([c for c in autres if c["type"] != "prix"], "les données de coût présentées selon le cadre fourni")):
        if groupe:
            blocs.append(Paragraphe([Segment(
                f"{'Les critères' if len(groupe) > 1 else 'Le critère'} "
                f"{liste_fr('« ' + str(c['intitule']) + ' »' for c in groupe)} "
                f"({liste_fr(pourcent(c['ponderation']) for c in groupe)}) "
                f"{'sont jugés' if len(groupe) > 1 else 'est jugé'} sur {sur} et n'appelle"
                f"{'nt' if len(groupe) > 1 else ''} pas de réponse dans ce cadre.")]))
    lignes = [["Rubrique", "Critère", "Intitulé", "Pondération"]]
    numero_article = 1
    plan: list[tuple[str, dict[str, Any]]] = []
    for c in criteres:
        numero_article += 1
        plan.append((str(numero_article), c))
        sous = c.get("sous_criteres") or []
        if sous:
            lignes += [[f"{numero_article}.{j}", str(c["intitule"]), str(s["intitule"]), pourcent(s["ponderation"])]
                       for j, s in enumerate(sous, start=1)]
        else:
            lignes.append([str(numero_article), str(c["intitule"]), str(c["intitule"]), pourcent(c["ponderation"])])
    blocs.append(Tableau([[[Segment(x)] for x in ligne] for ligne in lignes], True, [12, 30, 43, 15]))
    lots = [f"lot {l['numero']} – {l['intitule']}" for l in ctx["lots"]]
    # un cadre par lot : le candidat coche le lot du cadre qu'il remet (une case par lot)
    blocs.append(Tableau([[[Segment("Identification du candidat")], [Segment("À compléter")]],
                          [[Segment("Raison sociale et SIRET du candidat (ou du mandataire du groupement)")], [Segment("")]],
                          [[Segment("Lot pour lequel le présent cadre est remis (un cadre complété par lot : "
                                    "cocher une seule case)" if ctx["allotie"]
                                    else "Prestations pour lesquelles le mémoire est remis")],
                           [Segment("\n".join(f"☐ {l}" for l in lots) if ctx["allotie"]
                                    else str(ctx["lots"][0]["intitule"]))]],
                          [[Segment("Personne à contacter (nom, fonction, téléphone, courriel)")], [Segment("")]]],
                         True, [50, 50]))

    for numero, c in plan:
        guide = _guide(textes["criteres"].get(c["type"]) or textes["criteres"]["autre"],
                       {**contexte, "intitule": str(c["intitule"])}, fichier)
        titre(1, numero, titre_pondere(c["intitule"], c["ponderation"]))
        elements = _elements(guide.get("elements"), contexte, fichier)
        blocs.append(Paragraphe([Segment(f"Critère pondéré à {pourcent(c['ponderation'])} de la note globale. " + (
            "Le candidat y expose ses engagements sur chacun des éléments d'appréciation publiés par le RC, notés "
            "selon leur poids :" if elements else "Le candidat y expose notamment :"))]))
        if elements:  # éléments d'appréciation pondérés, les mêmes que ceux que publie le RC
            blocs.append(Tableau([[[Segment("Élément d'appréciation")], [Segment("Poids dans la note du critère")]]]
                                 + [[[Segment(str(e["element"]))], [Segment(pourcent(e["poids"]))]] for e in elements],
                                 True, [75, 25]))
        else:
            blocs.append(_puces([_rendre(t, {**contexte, "intitule": str(c["intitule"])}, fichier)
                                 for t in guide.get("attendus") or []]))
        if guide.get("preuves"):
            blocs.append(Paragraphe([Segment(_rendre(guide["preuves"], contexte, fichier))]))
        sous = c.get("sous_criteres") or []
        if not sous:
            blocs.append(_cadre_reponse())
        for j, s in enumerate(sous, start=1):
            titre(2, f"{numero}.{j}", titre_pondere(s["intitule"], s["ponderation"]))
            blocs.append(Paragraphe([Segment(
                f"Sous-critère pondéré à {pourcent(s['ponderation'])} de la note globale. "
                + _rendre(textes["criteres"]["sous_critere"], {**contexte, "intitule": s["intitule"]}, fichier))]))
            blocs.append(_cadre_reponse())

    engagements = [e for e in textes["engagements"] if _vrai(e.get("condition", "true"), contexte, fichier)]
    if engagements:
        numero = str(ctx["article_cadre_engagements"])  # le numéro que cite le RC (calcul du catalogue)
        titre(1, numero, TITRE_ENGAGEMENTS)
        blocs.append(Paragraphe([Segment(
            "Ces rubriques ne sont pas notées en tant que telles : elles recueillent les engagements du candidat sur "
            "les conditions d'exécution sociales et environnementales du marché et les justificatifs que le RC exige. "
            + ("Une offre qui ne fournit pas les rubriques du lot auquel elle répond est irrégulière ; une rubrique "
               "réservée à d'autres lots est laissée vide." if ctx["allotie"]
               else "Une offre qui ne les fournit pas est irrégulière."))]))
        for j, e in enumerate(engagements, start=1):
            titre(2, f"{numero}.{j}", str(e["titre"]))
            seulement = _lots_de_la_rubrique(e, contexte, fichier) if ctx["allotie"] else []
            if seulement:
                blocs.append(Paragraphe([Segment(f"Cette rubrique ne concerne que {seulement}.")]))
            cibles = e.get("renvoi") or []  # une clause, ou une liste : toutes celles qui fixent l'exigence
            cibles = [cibles] if isinstance(cibles, str) else cibles
            source = liste_fr(filter(None, (renvoi(analyse, str(i)) for i in cibles)))
            blocs.append(Paragraphe([Segment(f"Exigence fixée par {source}. " if source else ""),
                                     Segment("Le candidat fournit :")]))
            blocs.append(_puces([_rendre(t, contexte, fichier) for t in e.get("attendus") or []]))
            if e.get("tableau"):
                blocs.append(tableau(e["tableau"], contexte, fichier))
            blocs.append(_cadre_reponse("Observations du candidat"))
    return blocs, titres


def _lots_de_la_rubrique(engagement: dict[str, Any], contexte: dict[str, Any], fichier: Path) -> str:
    """« le lot n° 3 », « les lots n° 1 et 2 » : lots que concerne une rubrique d'engagements (`lots` de
    modeles/memoire.yaml) quand ce n'est pas toute la consultation ; vide sinon (tous les lots, ou aucun désigné)."""
    if not engagement.get("lots"):
        return ""
    try:
        numeros = [str(n) for n in evaluer(str(engagement["lots"]), contexte) or []]
    except ErreursJinja as exc:
        raise ErreurDonnees(Probleme(f"lots « {engagement['lots']} » impossibles à évaluer : {message_erreur(exc)}",
                                     fichier, None, "engagements")) from None
    if not numeros or len(numeros) >= len(contexte["lots"]):
        return ""
    return f"le lot n° {numeros[0]}" if len(numeros) == 1 else f"les lots n° {liste_fr(numeros)}"


def _guide(guide: dict[str, Any], contexte: dict[str, Any], fichier: Path) -> dict[str, Any]:
    """Ce que demande la rubrique d'un critère : la première `variantes` dont la condition `si` est vraie (famille
    d'achat, mots de l'intitulé du critère) remplace `attendus` et `preuves` ; sinon le texte commun."""
    for variante in guide.get("variantes") or []:
        try:
            vraie = bool(evaluer(str(variante["si"]), contexte))
        except ErreursJinja as exc:
            raise ErreurDonnees(Probleme(f"condition « {variante['si']} » impossible à évaluer : {message_erreur(exc)}",
                                         fichier, None, "criteres")) from None
        if vraie:
            return {**guide, **{k: v for k, v in variante.items() if k != "si"}}
    return guide


def _elements(expression: str | None, contexte: dict[str, Any], fichier: Path) -> list[dict[str, Any]]:
    """Éléments d'appréciation pondérés d'un critère (`elements` de modeles/memoire.yaml) : liste de
    {element, poids}, vide sans expression."""
    if not expression:
        return []
    try:
        return list(evaluer(expression, contexte) or [])
    except ErreursJinja as exc:
        raise ErreurDonnees(Probleme(f"éléments « {expression} » impossibles à évaluer : {message_erreur(exc)}",
                                     fichier, None, "criteres")) from None


def _vrai(condition: str, contexte: dict[str, Any], fichier: Path) -> bool:
    try:
        return bool(evaluer(condition, contexte))
    except ErreursJinja as exc:
        raise ErreurDonnees(Probleme(f"condition « {condition} » impossible à évaluer : {message_erreur(exc)}",
                                     fichier, None, "engagements")) from None


def tableau(spec: dict[str, Any], contexte: dict[str, Any], fichier: Path) -> Tableau:
    colonnes = spec["colonnes"]
    try:
        lignes = list(evaluer(spec["lignes"], contexte) or []) if spec.get("lignes") else []
    except ErreursJinja as exc:
        raise ErreurDonnees(Probleme(f"lignes « {spec['lignes']} » impossibles à évaluer : {message_erreur(exc)}",
                                     fichier, None, "engagements")) from None
    corps = [[[Segment(_rendre(str(col.get("valeur") or ""), {**contexte, "ligne": l}, fichier))] for col in colonnes]
             for l in lignes]
    corps += [[[Segment("")] for _ in colonnes] for _ in range(int(spec.get("lignes_vides") or (0 if lignes else 3)))]
    return Tableau([[[Segment(_rendre(str(col["titre"]), contexte, fichier))] for col in colonnes]] + corps, True)

