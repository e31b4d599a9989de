"""Annexe de conformité d'une consultation : synthèse, contrôles juridiques, actions SPASER, DECP, dérogations.

Un même contenu sous trois formes : Word (modèle commun de l'acheteur), JSON et CSV.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from .blocs import Bloc, ElementListe, Liste, Paragraphe, Segment, Titre
from ..droit.conformite import Conformite, normaliser
from ..donnees.formats import date_longue, liste_fr, montant, nombre, pluriel, pourcent
from ..droit.explication import clauses_a_valider
from ..droit.regles import Analyse
from .tracabilite import regle_lisible, tableau, tableau_consultation
from ..droit.spaser import LienApplique, actions_mises_en_oeuvre, considerations_decp, par_niveau
from .decp import libelle_ccag

NBSP = "\u00a0"
TITRE = "Annexe de conformité"
COLONNES_CSV = ("rubrique", "identifiant", "libelle", "resultat", "document", "article", "clause", "version",
                "references", "regle", "detail", "preuve")
RELECTURE = "Relecture des pièces"  # article de l'annexe qui cite les défauts (non relu lui-même)
A_VALIDER = "Clauses à faire valider par le service juridique"
STATUTS_JURIDIQUES = {"partiel": "partiellement vérifiée", "non_verifie": "non vérifiée"}


def _origines_decp(analyse: Analyse) -> dict[str, list[str]]:
    """Pour chaque valeur DECP, les clauses retenues et les critères qui la justifient."""
    origines: dict[str, list[str]] = {}
    for s in analyse.retenues():
        for valeur in s.clause.decp:
            origines.setdefault(valeur, []).append(f"{s.clause.document} art. {s.numero}, clause {s.clause.id} "
                                                   f"v{s.clause.version}")
    types = {"environnemental": "Critère environnemental", "social": "Critère social"}
    for c in analyse.contexte.get("criteres") or []:
        if c.get("type") in types:
            origines.setdefault(types[c["type"]], []).append(f"critère « {c['intitule']} » "
                                                             f"({pourcent(c.get('ponderation') or 0)})")
    return origines


CLES_NIVEAUX = {"actions_spaser": "mise_en_oeuvre", "obligations_legales_spaser": "obligation_legale",
                "rappels_spaser": "rappel"}
RUBRIQUES_CSV = {"actions_spaser": "action_spaser", "obligations_legales_spaser": "obligation_legale_spaser",
                 "rappels_spaser": "rappel_spaser"}


def _lien_json(l: LienApplique) -> dict[str, Any]:
    a, s = l.action, l.selection
    return {"action": a.id, "titre": a.titre, "niveau": l.niveau, "niveau_libelle": l.libelle_niveau,
            "axe": {"numero": a.axe.get("numero"), "titre": a.axe.get("titre")},
            "chantier": {"numero": a.chantier.get("numero"), "titre": a.chantier.get("titre")},
            "document": s.clause.document, "article": s.numero, "clause": s.clause.id, "clause_titre": s.clause.titre,
            "version": s.clause.version, "references": s.clause.references, "regle": s.clause.condition,
            "reponses_lues": s.lues, "lots": s.lots}


def donnees(analyse: Analyse, conformite: Conformite, visa: dict[str, Any] | None = None) -> dict[str, Any]:
    """Contenu complet de l'annexe, sérialisable en JSON ; `visa` : le visa du service juridique (serveur d'équipe)."""
    ctx = analyse.contexte
    niveaux = par_niveau(analyse)
    decp = considerations_decp(analyse)
    origines = _origines_decp(analyse)
    return ({"visa_juridique": visa} if visa else {}) | {
        "consultation": {
            "reference": ctx["reference"], "objet": ctx["objet"], "acheteur": analyse.acheteur.profil["nom"],
            "date_lancement": ctx["date_lancement"].isoformat(), "droit_applicable_au": analyse.date_droit.isoformat(),
            "nature": ctx["nature"], "procedure": ctx["procedure_libelle"], "procedure_articles": ctx["procedure_article"],
            "montant_total_ht": ctx["montant_total"], "seuil_europeen_ht": ctx["seuil_europeen"],
            "ccag": libelle_ccag(ctx["ccag"]), "allotie": ctx["allotie"], "climat_resilience": ctx["climat_resilience"],
            "catalogue": analyse.catalogue.version,
        },
        "lots": [{"numero": l["numero"], "intitule": l["intitule"], "montant_estime_ht": l["montant_estime"],
                  "duree_mois": l["duree_lot"], "avance_versee": l["avance_versee"],
                  "avance_taux_pme": l["avance_taux_pme"], "avance_taux_non_pme": l["avance_taux_non_pme"],
                  "heures_insertion": l["heures_insertion"]} for l in ctx["lots"]],
        "synthese": {**{k: v for k, v in conformite.resume().items() if k != "relecture"},
                     "texte": verdict_general(conformite)},
        "controles": [{"id": v.id, "libelle": v.libelle, "articles": v.articles, "obligatoire": v.obligatoire,
                       "verdict": v.statut, "verdict_libelle": v.libelle_statut, "constat": v.message,
                       "preuves": v.preuves, "statut_juridique": v.statut_juridique, "note": v.note}
                      for v in conformite.verdicts],
        "relecture": [d.en_json() for d in conformite.defauts],
        "clauses_a_valider": [{"document": s.clause.document, "article": s.numero, "clause": s.clause.id,
                               "titre": s.clause.titre, "version": s.clause.version,
                               "statut_juridique": s.clause.statut_juridique, "note": s.clause.note_juridique}
                              for s in clauses_a_valider(analyse)],
        # actions mises en œuvre au-delà du droit, puis les liens des deux autres niveaux, chacun à part
        **{cle: [_lien_json(l) for l in niveaux[niveau]] for cle, niveau in CLES_NIVEAUX.items()},
        "decp": {
            "considerationsSociales": {"considerationSociale": decp["considerationsSociales"]},
            "considerationsEnvironnementales": {"considerationEnvironnementale": decp["considerationsEnvironnementales"]},
        },
        "decp_origines": {v: origines.get(v, []) for v in decp["considerationsSociales"] + decp["considerationsEnvironnementales"]},
        "derogations": [{k: d[k] for k in ("article_ccap", "article_ccag", "objet", "clause", "recapitulee")}
                        for d in conformite.faits["derogations"]],
    }


def verdict_general(conformite: Conformite) -> str:
    """La phrase qu'un lecteur pressé retient : « conforme » seulement sans non-conformité, sans point à vérifier
    et sans défaut de relecture (Conformite.etat)."""
    bloquants = conformite.bloquants
    verifiees = sum(1 for v in conformite.verdicts if v.statut != "sans_objet")
    restes = []
    if conformite.a_verifier:
        restes.append(pluriel(len(conformite.a_verifier), "contrôle à examiner", "contrôles à examiner"))
    if conformite.defauts:
        restes.append(pluriel(len(conformite.defauts), "défaut relevé par la relecture des pièces",
                               "défauts relevés par la relecture des pièces"))
    if bloquants:
        return (f"Non conforme{NBSP}: {pluriel(len(bloquants), 'obligation légale non respectée', 'obligations légales non respectées')}"
                + (f", et {liste_fr(restes)}" if restes else "") + ". "
                "Le dossier a été généré pour permettre de poursuivre le travail ; il ne doit pas être publié en l'état.")
    if restes:
        return (f"À vérifier{NBSP}: {liste_fr(restes)}. La consultation ne peut être dite conforme qu'une fois "
                "chacun examiné et corrigé (voir les articles 3 et 4).")
    return (f"Conforme{NBSP}: la consultation respecte les {pluriel(verifiees, 'obligation vérifiée', 'obligations vérifiées')}, "
            "chacune avec sa preuve dans les pièces, et la relecture ne relève aucun défaut.")


def lieu_preuve(p: dict[str, str]) -> str:
    """« CCAP, article 6.3 » ; « Cadre de mémoire technique, rubriques notées » (une désignation qui n'est pas un
    numéro d'article est citée telle quelle)."""
    article = p["article"]
    return f"{p['piece']}, {'article ' if article[:1].isdigit() else ''}{article}"


def texte_preuve(p: dict[str, str]) -> str:
    """« CCAP, article 6.3 : « … » », ou le fait établi seul."""
    if not p.get("piece"):
        return p["extrait"]
    return f"{lieu_preuve(p)}{NBSP}: «{NBSP}{p['extrait']}{NBSP}»"


def _oui_non(valeur: bool) -> str:
    return "oui" if valeur else "non"


def blocs(analyse: Analyse, conformite: Conformite, citations: bool = True,
          visa: dict[str, Any] | None = None) -> tuple[list[Bloc], list[Titre]]:
    """Annexe en blocs : synthèse d'une page, puis le détail pour le juriste.

    `citations` faux : sans les extraits des pièces (preuves, défauts), pour relire l'annexe elle-même.
    `visa` : le visa du service juridique donné dans le serveur d'équipe (qui, quand, commentaire, clauses
    validées), tracé dans un dernier article."""
    ctx = analyse.contexte
    corps: list[Bloc] = []
    titres: list[Titre] = []
    paires = actions_mises_en_oeuvre(analyse)
    niveaux = par_niveau(analyse)
    legales = {l.action.id for l in niveaux["obligation_legale"]} - {a.id for a, _ in paires}
    decp = considerations_decp(analyse)
    a_valider = clauses_a_valider(analyse)

    def article(n: int, texte: str) -> None:
        _article(corps, titres, n, texte)

    def reprendre(partie: tuple[list[Bloc], list[Titre]]) -> None:
        corps.extend(partie[0])
        titres.extend(partie[1])

    def puce(debut: str, suite: str) -> ElementListe:
        return ElementListe([Segment(debut + f"{NBSP}: ", True), Segment(suite)])

    article(1, "Synthèse")
    corps.append(Paragraphe([Segment(verdict_general(conformite), True)]))
    chantiers = {(a.axe.get("numero"), a.chantier.get("numero")) for a, _ in paires}
    heures = sum(l["heures_insertion"] or 0 for l in ctx["lots"])
    en_bref = [
        puce("Achat", f"{normaliser(ctx['objet'])} ({pluriel(len(ctx['lots']), 'lot')}, "
                      f"{montant(ctx['montant_total'])} estimés)."),
        puce("Procédure", f"{ctx['procedure_libelle']}, lancée le {date_longue(ctx['date_lancement'])}."),
        puce("Loi Climat et Résilience", "ses obligations s'appliquent à cette consultation (article 3)."
             if ctx["climat_resilience"] else "ses obligations ne s'appliquent pas encore à cette date de lancement."),
        puce("Politique d'achat", f"{pluriel(len({a.id for a, _ in paires}), 'action')} du SPASER "
                                  f"{'mise' if len({a.id for a, _ in paires}) <= 1 else 'mises'} en œuvre au-delà du "
                                  f"droit, dans {pluriel(len(chantiers), 'chantier')}"
                                  + (f" ; {pluriel(len(legales), 'autre action répond', 'autres actions répondent')} "
                                     "à des obligations légales" if legales else "") + "."),
        puce("Données essentielles", f"considérations sociales « {liste_fr(decp['considerationsSociales'])} » ; "
                                     f"environnementales « {liste_fr(decp['considerationsEnvironnementales'])} »."
             .replace("« ", f"«{NBSP}").replace(" »", f"{NBSP}»")),
    ]
    if heures:
        en_bref.append(puce("Insertion", f"{nombre(heures)} heures de travail réservées à des personnes éloignées de l'emploi."))
    for v in conformite.bloquants:
        en_bref.append(puce("À corriger", f"{v.libelle} ({', '.join(v.articles)})."))
    for v in conformite.a_verifier:
        en_bref.append(puce("À vérifier", f"{v.libelle} ({', '.join(v.articles)})."))
    if a_valider:
        en_bref.append(puce("À faire valider", f"{pluriel(len(a_valider), 'clause retenue dont la source juridique', 'clauses retenues dont la source juridique')} "
                                               f"n'est pas entièrement vérifiée (article 5)."))
    corps.append(Liste(False, en_bref))
    corps.append(tableau([["Ce qui a été vérifié", "Résultat"]]
                          + [[v.libelle, v.libelle_statut] for v in conformite.verdicts], [80, 20]))

    reprendre(_sans_verdicts(analyse, 2, lambda: _article_consultation(analyse)))

    article(3, "Contrôles juridiques")
    corps.append(Paragraphe([Segment(
        "Chaque contrôle applique aux pièces générées une règle du référentiel juridique de l'outil, avec ses "
        "références. « Conforme » : obligation respectée, la preuve (pièce, article, texte) est citée ; "
        "« Non conforme » : obligation légale non respectée ; « À vérifier » : bonne pratique, ou point que l'outil "
        "ne peut pas contrôler et que le juriste confirme ; « Justifié » : absence motivée par l'acheteur dans ses "
        "réponses."
        .replace("« ", f"«{NBSP}").replace(" »", f"{NBSP}»").replace(" : ", f"{NBSP}: ").replace(" ; ", f"{NBSP}; "))]))
    controles = tableau(
        [["Contrôle", "Référence", "Verdict", "Constat", "Preuve (pièce, article, texte)"]]
        + [[v.libelle + ("" if v.obligatoire else " (bonne pratique)"), ", ".join(v.articles), v.libelle_statut,
            v.message, ""] for v in conformite.verdicts],
        [20, 13, 10, 28, 29])
    if citations:
        for ligne, v in zip(controles.lignes[1:], conformite.verdicts):
            ligne[4] = _cellule_preuves(v.preuves)
    corps.append(controles)
    notes = [v for v in conformite.verdicts if v.note]
    if notes:
        corps.append(Paragraphe([Segment("Sources et limites", True)]))
        corps.append(Liste(False, [ElementListe([Segment(f"{v.libelle}{NBSP}: ", True), Segment(
            v.note + (" (source partiellement vérifiée)" if v.statut_juridique != "verifie" else ""))]) for v in notes]))

    article(4, RELECTURE)
    regles = sorted({d.regle for d in conformite.defauts})
    if not conformite.defauts:
        corps.append(Paragraphe([Segment(
            f"La relecture automatique ne relève aucun défaut dans{NBSP}: {liste_fr(conformite.faits['pieces_relues'])}.")]))
    else:
        corps.append(Paragraphe([Segment(
            f"La relecture automatique des pièces relève "
            f"{pluriel(len(conformite.defauts), 'défaut')} ({pluriel(len(regles), 'règle')}), dans{NBSP}: "
            f"{liste_fr(list(dict.fromkeys(d.piece for d in conformite.defauts)))}. Un défaut marqué «{NBSP}oui{NBSP}» "
            f"dans la dernière colonne rend le texte faux{NBSP}: le dossier ne doit pas être publié avant sa "
            f"correction.")]))
        if citations:
            defauts = tableau(
                [["Pièce", "Article", "Défaut", "Extrait", "Bloquant"]]
                + [[d.piece, d.article, d.libelle + (f" ({d.detail})" if d.detail else ""), "",
                    _oui_non(d.bloquant)] for d in conformite.defauts],
                [13, 20, 22, 35, 10])
            for ligne, d in zip(defauts.lignes[1:], conformite.defauts):
                ligne[3] = [Segment(d.extrait, italique=True)]  # citation de la pièce, déjà en typographie française
            corps.append(defauts)

    reprendre(_sans_verdicts(analyse, 5, lambda: _articles_clauses_spaser_decp(analyse, paires, niveaux, legales, decp,
                                                                               a_valider)))

    article(8, "Dérogations au CCAG")
    derogations = conformite.faits["derogations"]
    dernier = conformite.faits["dernier_article_ccap"]
    if derogations:
        corps.append(Paragraphe([Segment(
            f"Dérogations au CCAG-{ctx['ccag']} et leur récapitulation à l'article {dernier['numero']} du CCAP "
            f"(«{NBSP}{dernier['titre']}{NBSP}»){NBSP}:")]))
        corps.append(tableau(
            [["Article du CCAP", f"Article du CCAG-{ctx['ccag']}", "Objet", "Clause", "Récapitulée"]]
            + [[d["article_ccap"], d["article_ccag"], d["objet"], d["clause"], _oui_non(d["recapitulee"])]
               for d in sorted(derogations, key=lambda d: d["article_ccap"])],
            [13, 14, 39, 20, 14]))
    else:
        corps.append(Paragraphe([Segment(f"Le CCAP ne déroge à aucun article du CCAG-{ctx['ccag']}.")]))
    if visa:
        article(9, "Visa du service juridique")
        texte = f"Consultation visée par {visa['juriste']} le {visa['le']}"
        corps.append(Paragraphe([Segment(texte + (f"{NBSP}: «{NBSP}{visa['commentaire']}{NBSP}»." if visa.get("commentaire")
                                                  else "."))]))
        if visa.get("clauses"):
            corps.append(Paragraphe([Segment(f"Clauses retenues à la source juridique partiellement vérifiée ou non "
                                             f"vérifiée, et leur validation{NBSP}:")]))
            corps.append(tableau(
                [["Clause", "Statut juridique", "Validation", "Commentaire"]]
                + [[f"{c['titre']} ({c['clause']}, v{c['version']})", STATUTS_JURIDIQUES.get(c["statut_juridique"], ""),
                    c["validation"], c.get("commentaire") or "aucun"] for c in visa["clauses"]],
                [34, 18, 26, 22]))
    return corps, titres  # typographie française : appliquée par les blocs eux-mêmes (pieces/blocs.py)


def _article(corps: list[Bloc], titres: list[Titre], n: int, texte: str) -> None:
    t = Titre(1, f"Article {n} – {texte}", f"_Toc_art_{n}")
    corps.append(t)
    titres.append(t)


def _sans_verdicts(analyse: Analyse, article: int, calcul: Callable[[], tuple[list[Bloc], list[Titre]]]
                   ) -> tuple[list[Bloc], list[Titre]]:
    """Blocs d'articles de l'annexe qui ne dépendent que de l'analyse (ni des verdicts ni de la relecture) : faits
    une fois par analyse (`Analyse.memoire`), repris par l'annexe relue pendant les contrôles
    (`lecture.controler`) et par l'annexe finale. Les blocs ne sont jamais modifiés une fois faits."""
    cle = ("annexe", article)
    if cle not in analyse.memoire:
        analyse.memoire[cle] = calcul()
    return analyse.memoire[cle]


def _article_consultation(analyse: Analyse) -> tuple[list[Bloc], list[Titre]]:
    """Article 2 : la consultation et ses lots."""
    ctx = analyse.contexte
    corps: list[Bloc] = []
    titres: list[Titre] = []
    _article(corps, titres, 2, "Consultation")
    corps.append(tableau_consultation(analyse, [
        ["Valeur estimée / seuil européen", f"{montant(ctx['montant_total'])} / {montant(ctx['seuil_europeen'])}"],
        ["CCAG de référence", f"CCAG-{ctx['ccag']} ({libelle_ccag(ctx['ccag'])})"],
        ["Version du catalogue", analyse.catalogue.version],
    ]))
    corps.append(tableau(
        [["Lot", "Intitulé", "Montant estimé", "Durée", "Avance PME / autres", "Heures d'insertion"]]
        + [[str(l["numero"]), str(l["intitule"]), montant(l["montant_estime"]), f"{nombre(l['duree_lot'])} mois",
            f"{pourcent(l['avance_taux_pme'])} / {pourcent(l['avance_taux_non_pme'])}" if l["avance_versee"] else "non versée",
            nombre(l["heures_insertion"]) if l["heures_insertion"] else "—"] for l in ctx["lots"]],
        [7, 33, 19, 10, 16, 15]))
    return corps, titres


def _articles_clauses_spaser_decp(analyse: Analyse, paires: list[tuple[Any, Any]], niveaux: dict[str, list[LienApplique]],
                                  legales: set[str], decp: dict[str, list[str]], a_valider: list[Any]
                                  ) -> tuple[list[Bloc], list[Titre]]:
    """Articles 5 à 7 : clauses à faire valider, actions du SPASER, données essentielles."""
    corps: list[Bloc] = []
    titres: list[Titre] = []

    def article(n: int, texte: str) -> None:
        _article(corps, titres, n, texte)

    article(5, A_VALIDER)
    if not a_valider:
        corps.append(Paragraphe([Segment("Toutes les clauses retenues ont une source juridique vérifiée.")]))
    else:
        corps.append(Paragraphe([Segment(
            f"{pluriel(len(a_valider), 'clause retenue a', 'clauses retenues ont')} une source juridique "
            f"partiellement vérifiée ou non vérifiée{NBSP}: le service juridique les relit et les valide avant publication. "
            f"La note de chaque clause dit, pour chaque texte cité, s'il a été vérifié sur le texte en vigueur (texte lu), "
            f"partiellement vérifié (par une source secondaire seulement, ou sans que toute sa rédaction ait été lue{NBSP}; "
            f"la note dit ce qui n'a pas été lu) ou cité de mémoire, à vérifier sur Légifrance.")]))
        corps.append(tableau(
            [["Pièce et article", "Clause (version)", "Statut juridique", "Note"]]
            + [[f"{s.clause.document}, article {s.numero}", f"{s.clause.titre} ({s.clause.id}, v{s.clause.version})",
                STATUTS_JURIDIQUES.get(s.clause.statut_juridique, s.clause.statut_juridique),
                normaliser(s.clause.note_juridique) or "—"] for s in a_valider],
            [15, 30, 15, 40]))

    article(6, "Actions du SPASER mises en œuvre")
    referentiel = analyse.acheteur.referentiel
    if not paires:
        corps.append(Paragraphe([Segment("Aucune action du référentiel n'est mise en œuvre au-delà du droit par "
                                         "cette consultation.")]))
    else:
        corps.append(Paragraphe([Segment(
            f"La consultation met en œuvre au-delà du droit {pluriel(len({a.id for a, _ in paires}), 'action')} du "
            f"référentiel «{NBSP}{referentiel.get('titre', '')}{NBSP}» (un choix de l'acheteur ou une règle de sa "
            f"politique d'achat qui va plus loin que le droit), au moyen de "
            f"{pluriel(len({s.clause.id for _, s in paires}), 'clause')}. Pour chacune{NBSP}: la pièce et l'article, "
            "la clause et sa version, ses références juridiques, la règle qui l'a retenue et les réponses lues. Les "
            "clauses qui répondent à une obligation légale ou qui rappellent le droit sont présentées à part, à la fin "
            "de l'article.")]))
    for axe in referentiel.get("axes", []):
        for chantier in axe.get("chantiers", []):
            lignes = [(a, s) for a, s in paires if a.chantier.get("numero") == chantier.get("numero")]
            if not lignes:
                continue
            t = Titre(2, f"Chantier {chantier['numero']} – {chantier['titre']}",
                      f"_Toc_chantier_{axe['numero']}_{chantier['numero']}")
            corps.append(t)
            titres.append(t)
            corps.append(Paragraphe([Segment(f"Axe {axe['numero']}{NBSP}: {axe['titre']}", False, True)]))
            corps.append(tableau(
                [["Action", "Pièce et article", "Clause (version)", "Références", "Règle et réponses lues"]]
                + [[f"{a.id} – {a.titre}", f"{s.clause.document}, article {s.numero}",
                    f"{s.clause.titre} ({s.clause.id}, v{s.clause.version})", " ; ".join(s.clause.references),
                    regle_lisible(analyse, s)] for a, s in lignes],
                [22, 11, 20, 19, 28]))

    autres = niveaux["obligation_legale"] + niveaux["rappel"]
    t = Titre(2, "Obligations légales et rappels rattachés au SPASER", "_Toc_spaser_droit")
    corps.append(t)
    titres.append(t)
    if not autres:
        corps.append(Paragraphe([Segment("Aucune clause retenue ne rattache une obligation légale ou un rappel à une "
                                         "action du référentiel.")]))
    else:
        verbe = "ne sont" if len(legales) > 1 else "n'est"
        corps.append(Paragraphe([Segment(
            f"Ces clauses se rattachent à une action du référentiel sans la mettre en œuvre au-delà du droit{NBSP}: "
            f"{pluriel(len(legales), 'action')} {verbe} concernée"
            f"{'s' if len(legales) > 1 else ''} que par des obligations légales. Elles ne comptent pas dans le bilan "
            "de la politique d'achat comme actions mises en œuvre.")]))
        corps.append(tableau(
            [["Action", "Niveau", "Pièce et article", "Clause (version)", "Références"]]
            + [[f"{l.action.id} – {l.action.titre}", l.libelle_niveau,
                f"{l.selection.clause.document}, article {l.selection.numero}",
                f"{l.selection.clause.titre} ({l.selection.clause.id}, v{l.selection.clause.version})",
                " ; ".join(l.selection.clause.references)] for l in autres],
            [30, 13, 14, 23, 20]))

    article(7, "Données essentielles (DECP 2.x)")
    corps.append(Paragraphe([Segment(
        "Valeurs à déclarer dans les données essentielles du marché (schéma DECP 2.0.3), déduites des clauses "
        f"retenues et des critères pondérés, jamais saisies à la main{NBSP}:")]))
    origines = _origines_decp(analyse)
    corps.append(tableau(
        [["Champ", "Valeur", "Origine"]]
        + [[champ, valeur, " ; ".join(origines.get(valeur, [])) or "aucune clause ni aucun critère"]
           for champ, cle in (("considerationsSociales", "considerationsSociales"),
                              ("considerationsEnvironnementales", "considerationsEnvironnementales"))
           for valeur in decp[cle]],
        [31, 21, 48]))

    return corps, titres


def _cellule_preuves(preuves: list[dict[str, str]]) -> list[Segment]:
    """Preuves d'un verdict : « CCAP, article 6.3 : » puis l'extrait cité en italique (non retouché)."""
    segments: list[Segment] = []
    for i, p in enumerate(preuves):
        if i:
            segments.append(Segment("\n"))
        if p.get("piece"):
            segments += [Segment(f"{lieu_preuve(p)}{NBSP}: "),
                         Segment(f"«{NBSP}{p['extrait']}{NBSP}»", italique=True)]
        else:
            segments.append(Segment(p["extrait"]))
    return segments


def csv_annexe(contenu: dict[str, Any]) -> bytes:
    """Même contenu à plat (séparateur « ; », UTF-8 avec BOM pour les tableurs)."""
    lignes = [_ENTETE]
    for cle, valeur in contenu["consultation"].items():
        lignes.append(_ligne(rubrique="consultation", identifiant=cle, resultat=_texte(valeur)))
    for l in contenu["lots"]:
        lignes.append(_ligne(rubrique="lot", identifiant=l["numero"], libelle=l["intitule"],
                             resultat=_texte(l["montant_estime_ht"]),
                             detail=f"avance PME {l['avance_taux_pme']} % / autres {l['avance_taux_non_pme']} %, "
                                    f"heures d'insertion {l['heures_insertion']}"))
    for c in contenu["controles"]:
        lignes.append(_ligne(rubrique="controle", identifiant=c["id"], libelle=c["libelle"],
                             resultat=c["verdict_libelle"], references=" ; ".join(c["articles"]),
                             detail=c["constat"], preuve=" ; ".join(texte_preuve(p) for p in c["preuves"])))
    for d in contenu["relecture"]:
        lignes.append(_ligne(rubrique="relecture", identifiant=d["regle"], libelle=d["libelle"],
                             resultat="bloquant" if d["bloquant"] else "à vérifier", document=d["piece"],
                             article=d["article"], detail=d["extrait"] + (f" ({d['detail']})" if d["detail"] else "")))
    for c in contenu["clauses_a_valider"]:
        lignes.append(_ligne(rubrique="clause_a_valider", identifiant=c["clause"], libelle=c["titre"],
                             resultat=STATUTS_JURIDIQUES.get(c["statut_juridique"], c["statut_juridique"]),
                             document=c["document"], article=c["article"], clause=c["clause"],
                             version=c["version"], detail=c["note"]))
    ecrites: dict[int, str] = {}  # valeurs lues d'une clause (objet) → leur JSON : une clause a souvent plusieurs liens
    for cle, rubrique in RUBRIQUES_CSV.items():
        for a in contenu[cle]:
            lues = a["reponses_lues"]
            if id(lues) not in ecrites:  # `contenu` garde chaque objet vivant : son identifiant ne resservira pas
                ecrites[id(lues)] = json.dumps(lues, ensure_ascii=False)
            lignes.append(_ligne(rubrique=rubrique, identifiant=a["action"], libelle=a["titre"],
                                 resultat=f"{a['niveau_libelle']} ; axe {a['axe']['numero']}, chantier "
                                          f"{a['chantier']['numero']}",
                                 document=a["document"], article=a["article"], clause=a["clause"],
                                 version=a["version"], references=" ; ".join(a["references"]), regle=a["regle"],
                                 detail=ecrites[id(lues)]))
    for champ, valeurs in (("considerationsSociales", contenu["decp"]["considerationsSociales"]["considerationSociale"]),
                           ("considerationsEnvironnementales",
                            contenu["decp"]["considerationsEnvironnementales"]["considerationEnvironnementale"])):
        for v in valeurs:
            lignes.append(_ligne(rubrique="decp", identifiant=champ, resultat=v,
                                 detail=" ; ".join(contenu["decp_origines"].get(v, []))))
    for d in contenu["derogations"]:
        lignes.append(_ligne(rubrique="derogation", identifiant=d["article_ccag"], libelle=d["objet"],
                             resultat="récapitulée" if d["recapitulee"] else "non récapitulée", document="CCAP",
                             article=d["article_ccap"], clause=d["clause"]))
    return ("\ufeff" + "".join(lignes)).encode("utf-8")


def _ligne(rubrique: Any = "", identifiant: Any = "", libelle: Any = "", resultat: Any = "", document: Any = "",
           article: Any = "", clause: Any = "", version: Any = "", references: Any = "", regle: Any = "",
           detail: Any = "", preuve: Any = "") -> str:
    """Une ligne du CSV de l'annexe, ses colonnes nommées (COLONNES_CSV, dans cet ordre ; absente : vide ; inconnue :
    erreur), écrite comme l'écrit `csv.DictWriter(..., delimiter=";", lineterminator="\r\n")` (guillemets seulement
    autour d'une cellule qui contient « ; », un guillemet, un retour chariot ou un saut de ligne, guillemets doublés ;
    None : cellule vide ; autre valeur : str), sans passer par le module csv (son écrivain, caractère par caractère,
    faisait le plus gros du temps de l'annexe CSV ; mêmes octets, vérifié par les tests).

    Une cellule qui commence par = + - @ (ou une tabulation, un retour chariot) serait une formule pour un tableur :
    elle est précédée d'une apostrophe, qui la garde en texte (recommandation OWASP « CSV injection »)."""
    return _ecrire((rubrique, identifiant, libelle, resultat, document, article, clause, version, references, regle,
                    detail, preuve))


def _ecrire(valeurs: tuple[Any, ...]) -> str:
    try:  # chaque texte déjà écrit : sa cellule gardée (la plupart reviennent d'une consultation à l'autre)
        cellules = [_CELLULES[v] for v in valeurs]
    except (KeyError, TypeError):  # texte nouveau, ou autre valeur
        cellules = [_cellule(v) for v in valeurs]
    return ";".join(cellules) + "\r\n"


def _cellule(valeur: Any) -> str:
    """Une cellule du CSV écrite comme l'écrit csv.DictWriter (voir `_ligne`) ; un texte court est gardé
    (`_CELLULES`), sous lui-même : une clé d'un autre type (nombre, booléen) ne peut pas égaler un texte."""
    if type(valeur) is str:
        cellule = _CELLULES.get(valeur)
        if cellule is not None:
            return cellule
        texte = valeur
        if texte[:1] in _FORMULE:
            texte = "'" + texte
    else:
        texte = "" if valeur is None else str(valeur)
    if _A_CITER.search(texte) is not None:
        texte = '"' + texte.replace('"', '""') + '"'
    if type(valeur) is str and len(valeur) <= CELLULE_GARDEE_AU_PLUS:
        if len(_CELLULES) >= CELLULES_AU_PLUS:
            _CELLULES.clear()
            _CELLULES[""] = ""
        _CELLULES[valeur] = texte
    return texte


_FORMULE = ("=", "+", "-", "@", "\t", "\r")
_A_CITER = re.compile('[;"\r\n]')  # ce qui fait mettre une cellule entre guillemets (csv.QUOTE_MINIMAL)
# Cellules des textes déjà écrits (texte → cellule) : noms des rubriques, libellés et verdicts des contrôles, titres des
# actions et des clauses, pièces… reviennent d'une ligne et d'une consultation à l'autre. Seuls les textes courts sont
# gardés ; vidée au-delà de CELLULES_AU_PLUS textes.
CELLULES_AU_PLUS = 4096
CELLULE_GARDEE_AU_PLUS = 300
_CELLULES: dict[str, str] = {"": ""}
_ENTETE = _ecrire(COLONNES_CSV)


def _texte(valeur: Any) -> str:
    if isinstance(valeur, bool):
        return "oui" if valeur else "non"
    return "" if valeur is None else str(valeur)


