"""Contrôles juridiques d'une consultation : contrôles (données de catalogue.yaml) → verdicts.

Les contrôles sont écrits par le service juridique dans la section `controles` de catalogue.yaml :
conditions d'application et de conformité en expressions Jinja évaluées dans le bac à sable,
messages en modèles Jinja. Ce module n'établit que des faits (clauses retenues, critères, considérations DECP…), reçoit ceux que
la couche des pièces a lus dans les pièces assemblées (lots présentés, dérogations récapitulées), et applique
les contrôles ; il ne contient aucune règle de droit et ne connaît ni les blocs ni le Word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

from jinja2 import Template

from ..erreurs import ErreurDonnees, Probleme
from .expressions import ENV_EXPRESSIONS, ErreursJinja, evaluer, lot_d_evaluations, message_erreur
from .regles import Analyse
from ..donnees import cache
from ..donnees.formats import typographie
from .spaser import considerations_decp
from .suggestions import Etat, etats
from .suggestions import charger as charger_suggestions
from ..donnees.questionnaire import charger as charger_questionnaire
from ..donnees import pieces_jointes

STATUTS = {
    "conforme": "Conforme",
    "non_conforme": "Non conforme",
    "a_verifier": "À vérifier",
    "justifie": "Justifié",
    "sans_objet": "Sans objet",
}
CHAMPS = {"id", "libelle", "articles", "obligatoire", "statut", "note", "applicable", "conforme", "justification",
          "messages", "preuve"}
OBLIGATOIRES = ("id", "libelle", "articles", "obligatoire", "applicable", "conforme", "messages", "preuve")
CHAMPS_PREUVE = {"clauses", "texte", "faits", "piece", "article"}
LONGUEUR_EXTRAIT = 240
EXECUTION = ("CCAP", "CCTP")  # pièces qui portent les conditions d'exécution
DECP_SOCIALES = ("Clause sociale", "Marché réservé")


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
    preuves: list[dict[str, str]] = field(default_factory=list)  # pièce, article, extrait (ou seul le fait établi)

    @property
    def libelle_statut(self) -> str:
        return STATUTS[self.statut]

    @property
    def bloquant(self) -> bool:
        return self.statut == "non_conforme"


@dataclass(frozen=True)
class Defaut:
    """Un défaut vu par la relecture automatique d'une pièce (generateur.pieces.relecture) : la règle qui l'a vu,
    la pièce, l'article (titre de niveau 1 qui le précède) et un extrait du texte."""

    regle: str
    libelle: str
    piece: str
    article: str
    extrait: str
    bloquant: bool = False
    detail: str = ""

    def en_json(self) -> dict[str, Any]:
        return {"regle": self.regle, "libelle": self.libelle, "piece": self.piece, "article": self.article,
                "extrait": self.extrait, "bloquant": self.bloquant, "detail": self.detail}


@dataclass
class Conformite:
    """Verdicts d'une consultation, faits sur lesquels ils reposent et défauts de la relecture des pièces."""

    verdicts: list[Verdict]
    faits: dict[str, Any]
    defauts: list[Defaut] = field(default_factory=list)
    # empreinte de tout ce dont ils dépendent (`lecture._verdicts_gardes`), sous laquelle l'annexe de conformité est
    # gardée (`generation.contenus_annexe`) ; None : calculés sans mémoire
    cle: str | None = field(default=None, compare=False, repr=False)

    @property
    def bloquants(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.bloquant]

    @property
    def a_verifier(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.statut == "a_verifier"]

    @property
    def etat(self) -> str:
        """Synthèse : « conforme » seulement sans non-conformité, sans point à vérifier et sans défaut de relecture."""
        if self.bloquants:
            return "non_conforme"
        return "a_verifier" if self.a_verifier or self.defauts else "conforme"

    @property
    def refus_strict(self) -> list[str]:
        """Ce qui fait refuser `--strict` : obligations non respectées, défauts bloquants de la relecture et valeurs
        que le profil de l'acheteur laisse à compléter (surlignées dans les pièces)."""
        return ([f"{v.libelle} ({', '.join(v.articles)})\u00a0: {v.message}" for v in self.bloquants]
                + [f"{d.piece}, {d.article}\u00a0: {d.libelle} («\u00a0{d.extrait}\u00a0»)"
                   for d in self.defauts if d.bloquant]
                + [f"Profil de l'acheteur\u00a0: valeur manquante, surlignée dans les pièces («\u00a0{c['libelle']}\u00a0»)"
                   for c in self.faits.get("profil_a_completer", []) if c["nature"] == "à compléter"])

    def compte(self, statut: str) -> int:
        return sum(1 for v in self.verdicts if v.statut == statut)

    def resume(self) -> dict[str, Any]:
        """Résumé pour le manifeste et le terminal."""
        return {
            "etat": self.etat,  # conforme | a_verifier | non_conforme
            "controles": len(self.verdicts),
            **{statut: self.compte(statut) for statut in STATUTS},
            "obligations_non_respectees": [v.id for v in self.bloquants],
            "controles_a_verifier": [v.id for v in self.a_verifier],
            "defauts_relecture": len(self.defauts),
            "relecture": [d.en_json() for d in self.defauts],
        }


_BLANCS = re.compile(r"[ \t\r\n]+")


def normaliser(valeur: Any) -> str:
    """Espaces, tabulations et retours à la ligne réduits à une espace ; les espaces insécables restent."""
    return _normaliser_texte(str(valeur))


@lru_cache(maxsize=1024)  # les mêmes textes du catalogue (libellés des contrôles, notes des clauses) à chaque consultation
def _normaliser_texte(texte: str) -> str:
    return _BLANCS.sub(" ", texte).strip()


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


# Plage horaire (« de 7 h 30 à 8 h », « 14h-16h ») et délai de remise du PPSPS (« PPSPS … 30 jours ») dans le texte
# d'une pièce jointe, pour la comparer aux règles du CCAP.
_PLAGE = re.compile(r"(\d{1,2})\s*h\s*(\d{2})?\s*(?:à|-|–)\s*(\d{1,2})\s*h\s*(\d{2})?")
_PPSPS = re.compile(r"PPSPS\b[^.;]{0,160}?(\d{1,3})\s*jours", re.IGNORECASE)


def _plages(texte: str) -> dict[tuple[int, int, int, int], str]:
    """Plages horaires d'un texte : clé comparable → écriture « 7 h 30 à 8 h »."""
    plages = {}
    for h1, m1, h2, m2 in _PLAGE.findall(texte):
        cle = (int(h1), int(m1 or 0), int(h2), int(m2 or 0))
        plages[cle] = f"{cle[0]} h{f' {cle[1]:02d}' if cle[1] else ''} à {cle[2]} h{f' {cle[3]:02d}' if cle[3] else ''}"
    return plages


def divergences_pgc(analyse: Analyse) -> list[str]:
    """Ce que le plan général de coordination joint (pièce de nature pgc_sps) dit autrement que le CCAP : plages
    horaires absentes des horaires de travail et de livraison du CCAP, délai de remise du PPSPS différent ; une
    pièce dont le texte n'a pu être lu est signalée comme telle."""
    ctx = analyse.contexte
    if ctx.get("nature") != "travaux":
        return []
    chantier = ctx.get("chantier") or {}
    horaires = " ".join(str(chantier.get(c) or "") for c in ("horaires", "horaires_livraison"))
    plages_ccap = _plages(horaires)
    delai = chantier.get("ppsps_delai_jours")
    constats = []
    for piece in ctx.get("pieces_acheteur") or []:
        if piece.get("nature") != "pgc_sps":
            continue
        titre = f"« {piece.get('titre')} »"
        texte = pieces_jointes.texte(analyse.reponses.fichier, str(piece.get("fichier") or ""))
        if texte is None:
            constats.append(f"{titre} : texte non lu (format {', '.join(pieces_jointes.FORMATS_TEXTE)} attendu, "
                            "ou PDF sans texte) ; horaires et délai du PPSPS à comparer au CCAP")
            continue
        autres = [ecrit for cle, ecrit in _plages(texte).items() if cle not in plages_ccap]
        if autres and horaires.strip():
            constats.append(f"{titre} : horaires {', '.join(autres)}, absents des horaires du CCAP ({horaires.strip()})")
        delais = sorted({int(n) for n in _PPSPS.findall(texte)})
        if delais and delais != [delai]:
            constats.append(f"{titre} : PPSPS remis {' ou '.join(str(d) for d in delais)} jours avant l'intervention, "
                            f"le CCAP dit « {ctx.get('ppsps_remise')} »")
    return constats


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
    contenu_cctp = pieces.get("contenu_lots_cctp") or {}
    options = options_imposees(analyse)
    return {
        "clauses_retenues": [s.clause.id for s in analyse.retenues()],
        "clauses_environnementales": _clauses_portant(analyse, ("Clause environnementale",)),
        "clauses_sociales": _clauses_portant(analyse, DECP_SOCIALES),
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
        "lots_sans_clause_sociale": [l["numero"] for l in lots_sans_clause_sociale(analyse)],
        "indices_revision": indices_revision(analyse),
        "contenu_lots_cctp": contenu_cctp,
        "criteres_absents": list(pieces.get("criteres_absents", [])),
        "lots_sans_contenu_cctp": [int(n) for n, lieux in contenu_cctp.items() if not lieux],
        "options_imposees": options,
        "refus_a_justifier": [o for o in options if o["statut"] == "refusée sans justification"],
        **faits_de_relecture(pieces),
        "divergences_pgc": divergences_pgc(analyse),
        # valeurs que le profil de l'acheteur marque « à compléter » (surlignées dans les pièces) ou « à vérifier »
        "profil_a_completer": [{"champ": c.champ, "libelle": c.libelle, "nature": c.nature}
                               for c in analyse.a_completer],
    }


def faits_de_relecture(pieces: dict[str, Any]) -> dict[str, Any]:
    return {"defauts_relecture": [d.en_json() for d in pieces.get("defauts_relecture", [])],
            "pieces_relues": list(pieces.get("pieces_relues", []))}


def indices_revision(analyse: Analyse) -> list[dict[str, Any]]:
    """Indice de révision de chaque lot : code, libellé et identifiant de série tels que les décrit le catalogue
    (paramètres index_travaux pour un index BT ou TP, series_indices pour une série hors travaux) ; `decrit` faux
    pour un indice que seule la politique d'achat nomme ; `libelle_verifie` faux pour un libellé non relu."""
    ctx = analyse.contexte
    decrits = {**ctx["param"]("series_indices"), **ctx["param"]("index_travaux")}
    resultat = []
    for lot in ctx["lots"]:
        for index in lot.get("index_lot") or [{"code": lot["indice_revision"]}]:
            code = str(index["code"])
            d = decrits.get(code) if lot.get("index_lot") else None
            resultat.append({"lot": lot["numero"], "code": code, "decrit": d is not None,
                             "libelle": str((d or {}).get("libelle") or ""), "idbank": (d or {}).get("idbank"),
                             "verifie": bool((d or {}).get("idbank_verifie")),
                             "libelle_verifie": bool((d or {}).get("libelle_verifie", True))})
    return resultat


def lots_sans_clause_sociale(analyse: Analyse) -> list[dict[str, Any]]:
    """Lots qu'aucune condition d'exécution sociale (CCAP, CCTP) ne couvre."""
    couverts: set[int] = set()
    # clauses de toute la consultation dont l'effet se limite à certains lots (paramètre effet_par_lot)
    effet = analyse.contexte["param"]("effet_par_lot") or {}
    for s in analyse.selections:
        if s.retenue and s.clause.document in EXECUTION and any(d in s.clause.decp for d in DECP_SOCIALES):
            if s.clause.portee == "lot":
                couverts.update(s.lots)
            else:
                couverts.update(l["numero"] for l in analyse.contexte["lots"]
                                if s.clause.id not in effet or l.get(str(effet[s.clause.id])))
    return [l for l in analyse.contexte["lots"] if l["numero"] not in couverts]


def refus_a_justifier(suivies: list[Etat]) -> list[Etat]:
    """Suggestions que la loi impose, refusées sans justification (les « À JUSTIFIER » de `dce verifier`)."""
    return [x for x in suivies if x.obligatoire and not x.retenue and not x.justification]


def options_imposees(analyse: Analyse) -> list[dict[str, Any]]:
    """Suggestions du questionnaire que la loi impose à cette consultation, et leur sort."""
    fichier = analyse.catalogue.racine / "questionnaire.yaml"
    if not fichier.is_file():
        return []
    questions = charger_questionnaire(fichier)
    suivies = etats(charger_suggestions(fichier), analyse.contexte)
    return [{"id": e.suggestion.id, "titre": e.suggestion.titre, "reference": e.suggestion.reference,
             # la question de la justification, dite avec les mots du questionnaire (jamais sa clé)
             "question": questions.libelle(e.suggestion.justification) if e.suggestion.justification else "",
             "statut": e.statut, "justification": e.justification, "clauses": e.suggestion.clauses}
            for e in suivies if e.obligatoire]


_DEFINITIONS = cache.ParObjet(8)


def definitions(analyse: Analyse) -> list[dict[str, Any]]:
    """Section `controles` de catalogue.yaml, vérifiée une fois par catalogue chargé (les deux passages des contrôles
    de chaque consultation la relisaient) ; erreurs avec fichier et ligne."""
    cat = analyse.catalogue
    brut = (cat.document_yaml.donnees or {}).get("controles") or []
    return _DEFINITIONS.obtenir(cat.document_yaml, lambda: _verifier_definitions(cat, brut), (brut, cat.fichier))


def _verifier_definitions(cat: Any, brut: Any) -> list[dict[str, Any]]:
    problemes: list[Probleme] = []

    def pb(message: str, chemin: str) -> None:
        problemes.append(Probleme(message, cat.fichier, cat.document_yaml.ligne(chemin), chemin))

    for chemin, c in entrees_de_section(brut, "controles", ("contrôles", "un contrôle"), CHAMPS, OBLIGATOIRES, pb):
        messages = c.get("messages") or {}
        for cle in sorted(set(messages) - set(STATUTS)):
            pb(f"message « {cle} » inconnu ({', '.join(STATUTS)})", f"{chemin}.messages.{cle}")
        for cle in ("conforme", "non_conforme"):
            if not messages.get(cle):
                pb("message obligatoire manquant", f"{chemin}.messages.{cle}" if messages else f"{chemin}.messages")
        preuve = c.get("preuve")
        if preuve is not None:
            if not isinstance(preuve, dict) or not preuve.keys() & {"clauses", "faits"}:
                pb("la preuve nomme des clauses (« clauses », « texte ») ou un fait (« faits »)", f"{chemin}.preuve")
            else:
                for cle in sorted(set(preuve) - CHAMPS_PREUVE):
                    pb(f"champ de preuve inconnu ({', '.join(sorted(CHAMPS_PREUVE))})", f"{chemin}.preuve.{cle}")
                if "faits" in preuve and not (preuve.get("piece") and preuve.get("article")):
                    pb("un fait cité en preuve dit sa pièce (« piece ») et son article ou sa rubrique (« article »)",
                       f"{chemin}.preuve")
    if problemes:
        raise ErreurDonnees(problemes)
    return brut


def entrees_de_section(brut: Any, section: str, noms: tuple[str, str], champs: set[str],
                       obligatoires: tuple[str, ...], pb: Callable[[str, str], None]) -> list[tuple[str, dict[str, Any]]]:
    """(chemin, entrée) de chaque dictionnaire d'une section-liste du catalogue (`controles`, `relecture`) ; signale
    par `pb` une section qui n'est pas une liste, une entrée qui n'est pas un dictionnaire, un champ inconnu ou
    manquant, un identifiant en double. `noms` : (« contrôles », « un contrôle »)."""
    if not isinstance(brut, list):
        pb(f"la section doit être une liste de {noms[0]}", section)
        return []
    entrees, vus = [], set()
    for i, e in enumerate(brut):
        chemin = f"{section}.{i}"
        if not isinstance(e, dict):
            pb(f"{noms[1]} doit être un dictionnaire", chemin)
            continue
        for champ in sorted(set(e) - champs):
            pb("champ inconnu", f"{chemin}.{champ}")
        for champ in obligatoires:
            if e.get(champ) in (None, "", []):
                pb("champ obligatoire manquant", f"{chemin}.{champ}" if champ in e else chemin)
        if e.get("id") in vus:
            pb(f"{noms[1].split(' ', 1)[1]} « {e.get('id')} » en double", f"{chemin}.id")
        vus.add(str(e.get("id")))
        entrees.append((chemin, e))
    return entrees


@lru_cache(maxsize=512)
def _modele(message: str) -> Template:
    return ENV_EXPRESSIONS.from_string(message)


# Faits de la relecture des pièces : seuls ils changent entre les deux passages des contrôles (pieces.lecture.controler).
FAITS_RELECTURE = ("defauts_relecture", "pieces_relues")
_RE_FAITS_RELECTURE = re.compile(r"\b(?:" + "|".join(FAITS_RELECTURE) + r")\b")


def _textes_du_controle(valeur: Any) -> Iterable[str]:
    if isinstance(valeur, dict):
        for k, v in valeur.items():
            yield str(k)
            yield from _textes_du_controle(v)
    elif isinstance(valeur, (list, tuple)):
        for v in valeur:
            yield from _textes_du_controle(v)
    else:
        yield str(valeur)


def lit_la_relecture(controle: dict[str, Any]) -> bool:
    """Vrai si un champ du contrôle (expression, message, preuve…) nomme un fait de la relecture."""
    return any(_RE_FAITS_RELECTURE.search(t) for t in _textes_du_controle(controle))


_LECTEURS = cache.ParObjet(8)


def _lecteurs_de_la_relecture(analyse: Analyse, controles: list[dict[str, Any]]) -> list[bool]:
    """`lit_la_relecture` de chaque contrôle, calculé une fois par catalogue chargé (les contrôles sont ceux de son
    document YAML)."""
    return _LECTEURS.obtenir(analyse.catalogue.document_yaml, lambda: [lit_la_relecture(c) for c in controles])


def verifier(analyse: Analyse, pieces: dict[str, Any], precedent: Conformite | None = None,
             etablis: dict[str, Any] | None = None) -> Conformite:
    """Applique chaque contrôle du catalogue à la consultation ; `pieces` : faits lus dans les pièces
    assemblées (voir `faits`), fournis par la couche des pièces (generateur.pieces.lecture).

    `precedent` : les verdicts d'un passage sur la même analyse dont les `pieces` ne différaient que par les faits
    de la relecture (`FAITS_RELECTURE`) ; seuls les contrôles qui nomment l'un de ces faits sont de nouveau évalués,
    les autres sont repris (mêmes expressions, même contexte : même verdict). `etablis` : `faits(analyse, pieces)`,
    déjà établis (premier passage)."""
    with lot_d_evaluations():  # une minuterie pour toutes les évaluations des contrôles (expressions.py)
        return _verifier(analyse, pieces, precedent, etablis)


def _verifier(analyse: Analyse, pieces: dict[str, Any], precedent: Conformite | None,
              etablis: dict[str, Any] | None) -> Conformite:
    if precedent is None:
        etablis = faits(analyse, pieces) if etablis is None else etablis
    else:
        etablis = {**precedent.faits, **faits_de_relecture(pieces)}
    contexte = {**analyse.contexte, **etablis}
    cat = analyse.catalogue
    verdicts = []
    controles = definitions(analyse)
    lecteurs = _lecteurs_de_la_relecture(analyse, controles) if precedent is not None else []
    for i, c in enumerate(controles):
        if precedent is not None and not lecteurs[i]:
            verdicts.append(precedent.verdicts[i])
            continue
        def calculer(champ: str, cle: str | None = None) -> Any:
            chemin = f"controles.{i}.{champ}" + (f".{cle}" if cle else "")
            try:
                if cle is None:
                    return evaluer(str(c[champ]), contexte)
                if (champ, cle) == ("preuve", "clauses"):
                    return evaluer(str(c[champ][cle]), contexte)
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
            message = typographie(normaliser(calculer("messages", cle)))
        elif statut == "justifie":
            message = f"Justification enregistrée\u00a0: «\u00a0{normaliser(calculer('justification'))}\u00a0»."
        else:
            message = ""
        preuves: list[dict[str, str]] = []
        if statut == "conforme":
            preuve = c["preuve"]
            ids = calculer("preuve", "clauses") if "clauses" in preuve else []
            texte = normaliser(calculer("preuve", "texte")) if preuve.get("texte") else ""
            manquantes = []
            for ident in ids if isinstance(ids, (list, tuple)) else [ids]:
                citation = citer(analyse, pieces.get("textes_articles", {}), str(ident), texte)
                if citation is None:
                    manquantes.append(f"clause {ident}" + (f" («\u00a0{texte}\u00a0»)" if texte else ""))
                else:
                    preuves.append(citation)
            fait = typographie(normaliser(calculer("preuve", "faits"))) if preuve.get("faits") else ""
            if fait:
                preuves.append({"piece": normaliser(calculer("preuve", "piece")),
                                "article": normaliser(calculer("preuve", "article")), "extrait": fait})
            if manquantes or not preuves:
                statut = "a_verifier"
                message += (" Preuve introuvable dans les pièces\u00a0: " + ", ".join(manquantes or ["aucune"]) + ".")
                preuves = []
            elif not all(p["piece"] and p["article"] and p["extrait"] for p in preuves):
                # « Conforme » seulement sur une preuve que le juriste peut retrouver : pièce, article, texte
                statut = "a_verifier"
                message += " Preuve sans pièce ni article\u00a0: le juriste la retrouve et la confirme."
        articles = c["articles"] if isinstance(c["articles"], list) else [c["articles"]]
        verdicts.append(Verdict(str(c["id"]), normaliser(c["libelle"]), [str(a) for a in articles],
                                bool(c["obligatoire"]), statut, message, str(c.get("statut") or "verifie"),
                                normaliser(c.get("note") or ""), preuves))
    return Conformite(verdicts, etablis, list(pieces.get("defauts_relecture", [])))


@lru_cache(maxsize=1024)  # les lignes des articles cités, relues pour chaque preuve cherchée
def _comparable(texte: str) -> str:
    return " ".join(texte.replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'").split()).casefold()


def citer(analyse: Analyse, textes: dict[str, dict[str, list[str]]], ident: str, texte: str = "") -> dict[str, str] | None:
    """Preuve tirée d'une clause retenue : sa pièce, son article et la phrase qui contient `texte` (la première
    phrase de l'article si `texte` est vide) ; None si la clause n'est pas retenue ou si le texte n'y est pas."""
    s = analyse.selection(ident)
    if s is None or not s.retenue or not s.numero:
        return None
    lignes = textes.get(s.clause.document, {}).get(s.numero, [])
    cherche = _comparable(texte)
    # sans texte cherché : la première phrase, pas un intertitre (« Option retenue »)
    ligne = next((l for l in lignes if cherche in _comparable(l) and (cherche or l.rstrip().endswith((".", ":", ";")))),
                 next((l for l in lignes if cherche in _comparable(l)), None))
    if ligne is None:
        return None
    phrases = re.split(r"(?<=[.!?;])\s+", normaliser(ligne))
    phrase = next((p for p in phrases if cherche in _comparable(p)), phrases[0])
    if len(phrase) > LONGUEUR_EXTRAIT:
        phrase = phrase[:LONGUEUR_EXTRAIT].rsplit(" ", 1)[0] + "…"
    return {"piece": s.clause.document, "article": s.numero, "extrait": phrase}
