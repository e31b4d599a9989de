"""Acte d'engagement d'un lot, dans l'esprit du formulaire ATTRI1 de l'État.

Toutes les valeurs viennent de l'analyse (taux d'avance, heures d'insertion, durée, TVA), jamais
recalculées ici : l'AE dit ce que disent le RC et le CCAP, et renvoie à leurs articles par les
numéros que le moteur a attribués.
"""

from __future__ import annotations

from typing import Any

from .blocs import Bloc, Paragraphe, Segment, Tableau, Titre
from .bordereau import feuille_du_lot
from ..donnees.formats import date_heure, montant, nombre, pluriel, pourcent
from ..donnees.fichiers import nom_sur
from ..droit.regles import Analyse

CASE = "\u2610"
A_COMPLETER = "\u2026" * 12
FORMES = {"marche": "marché ordinaire", "accord_cadre_bons_commande": "accord-cadre à bons de commande",
          "accord_cadre_marches_subsequents": "accord-cadre à marchés subséquents"}


def nom_fichier(analyse: Analyse, lot: dict[str, Any]) -> str:
    base = nom_sur(str(analyse.contexte["reference"]))
    return f"{base}-AE-lot-{lot['numero']}.docx" if analyse.contexte["allotie"] else f"{base}-AE.docx"


def titre_document(analyse: Analyse, lot: dict[str, Any]) -> tuple[str, str]:
    """(titre de couverture, sigle d'en-tête) de l'AE du lot."""
    if analyse.contexte["allotie"]:
        return f"Acte d'engagement – lot {lot['numero']}", f"AE lot {lot['numero']}"
    return "Acte d'engagement", "AE"


def _renvoi(analyse: Analyse, ident: str, defaut: str) -> str:
    s = analyse.selection(ident)
    return f"l'article {s.numero} du {s.clause.document}" if s and s.retenue and s.numero else defaut


def _renvoi_delai(analyse: Analyse) -> str:
    """L'article qui fixe le délai du lot : celui des délais par lot quand le CCAP en a un (travaux allotis),
    sinon celui de la durée du contrat."""
    par_lot = analyse.selection("ccap-calendrier")
    if analyse.contexte["allotie"] and par_lot and par_lot.retenue:
        return _renvoi(analyse, "ccap-calendrier", "le CCAP")
    return _renvoi(analyse, "ccap-duree", "le CCAP")


def _p(*textes: str | Segment) -> Paragraphe:
    return Paragraphe([t if isinstance(t, Segment) else Segment(t) for t in textes])


def tableau(lignes: list[list[str]], largeurs: list[int], entete: bool = True) -> Tableau:
    return Tableau([[[Segment(c)] for c in ligne] for ligne in lignes], entete, largeurs)


def blocs(analyse: Analyse, lot: dict[str, Any]) -> tuple[list[Bloc], list[Titre]]:
    """Corps de l'acte d'engagement du lot et entrées de son sommaire."""
    ctx = analyse.contexte
    profil = analyse.acheteur.profil
    corps: list[Bloc] = []
    titres: list[Titre] = []

    def titre(niveau: int, repere: str, texte: str) -> None:
        t = Titre(niveau, f"{repere}\u00a0– {texte}" if niveau == 2 else f"{repere} – {texte}",
                  f"_Toc_ae_{repere.replace('.', '_')}")
        corps.append(t)
        titres.append(t)

    forme = ctx["forme"]
    accord_cadre = forme != "marche"
    ccap_prix = _renvoi(analyse, "ccap-prix", "le CCAP")

    titre(1, "A", "Objet de l'acte d'engagement")
    offre = (f"{CASE} offre de base      {CASE} variante (préciser : {A_COMPLETER})" if ctx["variantes_autorisees"]
             else "offre de base (les variantes ne sont pas autorisées)")
    lignes = [
        ["Rubrique", "Contenu"],
        ["Acheteur", f"{profil['nom']}, {', '.join(profil.get('adresse') or [])}"],
        ["Représentant de l'acheteur, signataire du marché", str(profil["representant"])],
        ["Service chargé du suivi", str(profil.get("service") or "")],
        ["Objet de la consultation", " ".join(str(ctx["objet"]).split())],
        ["Référence", str(ctx["reference"])],
        ["Procédure", f"{ctx['procedure_libelle']} ({ctx['procedure_article']} du code de la commande publique)"],
        ["Forme du contrat", FORMES.get(forme, forme) + (
            f", sans minimum, d'un montant maximum de {montant(lot['montant_estime'])} pour toute sa durée"
            if accord_cadre else "")],
        ["Lot", f"lot {lot['numero']} – {lot['intitule']}" + (f" (CPV {lot['cpv']})" if lot.get("cpv") else "")
         if ctx["allotie"] else f"lot unique – {lot['intitule']}"],
        ["Offre", offre],
    ]
    corps.append(tableau(lignes, [35, 65]))

    titre(1, "B", "Engagement du titulaire")
    titre(2, "B1", "Identification du titulaire")
    corps.append(_p(f"{CASE} candidat individuel      {CASE} groupement conjoint      {CASE} groupement solidaire"))
    corps.append(tableau([
        ["Renseignement", "À compléter par le candidat"],
        ["Raison sociale", ""], ["Forme juridique", ""], ["Adresse du siège", ""], ["Numéro SIRET", ""],
        ["Téléphone et courriel", ""], ["Nom, prénom et qualité du signataire", ""],
        ["Petite ou moyenne entreprise au sens de l'article R2151-13 du code de la commande publique",
         f"{CASE} oui      {CASE} non"],
    ], [50, 50]))
    corps.append(_p("En cas de groupement, le mandataire est le membre indiqué ci-dessus ; chaque membre est identifié "
                    "dans une annexe au présent acte (formulaire DC1 ou document équivalent), qui précise pour un "
                    "groupement conjoint la répartition des prestations et leur montant."))

    titre(2, "B2", "Engagement")
    corps.append(_p(
        f"Après avoir pris connaissance des pièces constitutives du marché énumérées à "
        f"{_renvoi(analyse, 'ccap-pieces', 'le CCAP')}, le signataire s'engage, sans réserve, pour son compte ou pour "
        f"celui du groupement, à exécuter les prestations {'du lot ' + str(lot['numero']) if ctx['allotie'] else ''}"
        f"{' ' if ctx['allotie'] else ''}dans les conditions de ces pièces et aux prix de son offre. Cette offre le lie "
        f"pendant {nombre(ctx['delai_validite_offres_jours'])} jours à compter de la date limite de remise des plis, "
        f"fixée au {date_heure(ctx['date_limite_offres'])}."))

    titre(2, "B3", "Prix")
    corps.extend(_prix(analyse, lot, ccap_prix))

    titre(2, "B4", "Durée d'exécution")
    duree = (f"La durée d'exécution {'du lot' if ctx['allotie'] else 'du contrat'} est de "
             f"{nombre(lot['duree_lot'])} mois")
    if ctx.get("reconductions"):
        duree += f", reconductions comprises ({pluriel(ctx['reconductions'], 'reconduction possible')})"
    corps.append(_p(f"{duree}, dans les conditions fixées à {_renvoi_delai(analyse)}."))

    titre(2, "B5", "Avance")
    corps.extend(_avance(analyse, lot))

    repere = 6
    if lot.get("insertion_lot"):
        titre(2, f"B{repere}", "Action d'insertion professionnelle")
        corps.append(_p(f"Le titulaire s'engage à réaliser au moins {nombre(lot['heures_insertion'])} heures "
                        f"d'insertion professionnelle, dans les conditions fixées à "
                        f"{_renvoi(analyse, 'ccap-insertion', 'le CCAP')}."))
        repere += 1

    titre(2, f"B{repere}", "Compte à créditer")
    corps.append(_p("Les sommes dues sont versées au compte suivant (joindre un relevé d'identité bancaire ; en cas "
                    "de groupement conjoint, un compte par membre) :"))
    corps.append(tableau([["Titulaire du compte", "Établissement", "IBAN", "BIC"], ["", "", "", ""], ["", "", "", ""]],
                          [25, 25, 35, 15]))
    titre(2, f"B{repere + 1}", "Sous-traitance")
    corps.append(_p("Le candidat indique les prestations qu'il envisage de sous-traiter ; chaque sous-traitant connu "
                    "fait l'objet d'une déclaration de sous-traitance (formulaire DC4 ou équivalent) annexée au présent "
                    "acte, qui vaut demande d'acceptation et d'agrément de ses conditions de paiement."))
    corps.append(tableau([["Nature des prestations sous-traitées", "Sous-traitant", "Montant HT", "Paiement direct"]]
                          + [["", "", "", f"{CASE} oui  {CASE} non"] for _ in range(3)], [35, 30, 17, 18]))

    titre(1, "C", "Signature du titulaire")
    corps.append(_p("La signature n'est pas exigée au stade de la remise de l'offre : seul l'attributaire signe l'acte "
                    "d'engagement avant la notification du marché, de préférence électroniquement, dans les conditions "
                    "fixées par le règlement de la consultation."))
    corps.append(tableau([["Nom, prénom et qualité du signataire", "Lieu et date", "Signature"],
                           ["", "", "\n\n\n"]], [40, 25, 35]))

    titre(1, "D", "Acceptation de l'offre par l'acheteur")
    corps.append(_p(f"La présente offre est acceptée{' pour le lot ' + str(lot['numero']) if ctx['allotie'] else ''}. "
                    f"Elle vaut acte d'engagement."))
    corps.append(tableau([
        ["Rubrique", "Contenu"],
        ["Pour l'acheteur", f"{profil['nom']}, représentée par {profil['representant']} ou son délégataire"],
        ["Comptable public assignataire", str(profil.get("comptable") or "")],
        ["Personne habilitée à fournir les renseignements relatifs aux nantissements et cessions de créances",
         str(profil["representant"])],
        ["Lieu et date", ""],
        ["Signature", "\n\n\n"],
    ], [40, 60]))

    titre(1, "E", "Notification")
    corps.append(_p("Le marché est notifié au titulaire par la remise d'une copie de l'acte d'engagement signé par les "
                    "deux parties, par le profil d'acheteur ou par tout moyen permettant de donner date certaine à sa "
                    "réception. La date de réception est la date de notification."))
    corps.append(tableau([["Date de notification", "Observations"], ["", ""]], [40, 60]))
    return corps, titres


def _prix(analyse: Analyse, lot: dict[str, Any], ccap_prix: str) -> list[Bloc]:
    """Forme des prix, pièces financières et montants à porter par le candidat."""
    ctx = analyse.contexte
    parties = {p.sigle for p in feuille_du_lot(analyse, lot).parties}
    forme = ctx["prix"]["forme"]
    bons = " au titre de chaque bon de commande" if ctx["forme"] == "accord_cadre_bons_commande" else ""
    texte = {
        "forfaitaire": "Les prestations sont rémunérées par un prix global et forfaitaire, décomposé dans la "
                       "décomposition du prix global et forfaitaire (DPGF) jointe",
        "unitaire": "Les prestations sont rémunérées par application des prix unitaires du bordereau des prix "
                    f"unitaires (BPU) joint aux quantités réellement exécutées{bons}",
        "mixte": "Les prestations sont rémunérées pour partie par un prix global et forfaitaire (DPGF) et pour "
                 f"partie par application des prix unitaires du BPU aux quantités réellement exécutées{bons}",
    }[forme]
    blocs: list[Bloc] = [_p(f"{texte}, dans les conditions fixées à {ccap_prix}.")]
    if "ccap-revision" in _retenues(analyse):
        blocs.append(_p(f"Les prix sont révisables selon {_renvoi(analyse, 'ccap-revision', 'le CCAP')}."))
    elif "ccap-actualisation" in _retenues(analyse):
        blocs.append(_p(f"Les prix sont fermes, dans les conditions fixées à "
                        f"{_renvoi(analyse, 'ccap-actualisation', 'le CCAP')}."))
    else:
        blocs.append(_p("Les prix sont fermes."))
    chiffres = []
    if "DPGF" in parties:
        chiffres.append("prix global et forfaitaire")
    if "BPU-DQE" in parties:
        chiffres.append("montant du détail quantitatif estimatif (DQE), qui sert au jugement des offres et "
                        "n'engage l'acheteur sur aucune quantité")
    if chiffres:
        sources = [s for s, partie in (("de la DPGF", "DPGF"), ("de l’application des prix du BPU aux quantités du DQE", "BPU-DQE")) if partie in parties]
        blocs.append(_p(f"Le candidat reporte ci-dessous le {' et le '.join(chiffres)}, "
                        f"{'tels qu’ils résultent' if len(chiffres) > 1 else 'tel qu’il résulte'} "
                        f"{' et '.join(sources)} ; la TVA est au taux de {pourcent(lot['tva'])}."))
        lignes = [["Montant", "Hors taxes", f"TVA ({pourcent(lot['tva'])})", "Toutes taxes comprises"]]
        if "DPGF" in parties:
            lignes.append(["Prix global et forfaitaire", "", "", ""])
        if "BPU-DQE" in parties:
            lignes.append(["Montant du DQE", "", "", ""])
        if len(lignes) > 2:
            lignes.append(["Total", "", "", ""])
        blocs.append(tableau(lignes, [34, 22, 22, 22]))
        blocs.append(tableau([["Montant total TTC en toutes lettres", ""]], [34, 66], entete=False))
    blocs.extend(_tranches(analyse, lot))
    return blocs


def _tranches(analyse: Analyse, lot: dict[str, Any]) -> list[Bloc]:
    """Marché à tranches (CCP R2113-4) : le montant de chaque tranche, que le RC demande ; l'acheteur n'est engagé
    que sur la tranche ferme."""
    tranches = analyse.contexte.get("tranches") or []
    if not tranches:
        return []
    lignes = [["Tranche", "Hors taxes", f"TVA ({pourcent(lot['tva'])})", "Toutes taxes comprises"]]
    for t in tranches:
        nature = "tranche ferme" if t["nature"] == "ferme" else "tranche optionnelle"
        lignes.append([f"{t['code']} – {t['intitule']} ({nature})", "", "", ""])
    lignes.append(["Total des tranches", "", "", ""])
    return [_p("Le marché comporte des tranches (article R2113-4 du code de la commande publique). Le candidat "
               "reporte ci-dessous le montant de chaque tranche ; le total est celui de son offre. L’acheteur "
               "n’est engagé que sur la tranche ferme ; chaque tranche optionnelle n’est exécutée que si elle est "
               f"affermie dans les conditions fixées à {_renvoi(analyse, 'ccap-tranches', 'le CCAP')}."),
            tableau(lignes, [46, 18, 18, 18])]


def _retenues(analyse: Analyse) -> set[str]:
    return {s.clause.id for s in analyse.retenues("CCAP")}


def _avance(analyse: Analyse, lot: dict[str, Any]) -> list[Bloc]:
    """Taux d'avance du CCAP pour ce lot et case de renonciation (CCP R2191-5)."""
    ctx = analyse.contexte
    article = _renvoi(analyse, "ccap-avance", "le CCAP")
    if not lot["avance_versee"]:
        return [_p(f"Le lot ne remplit pas les conditions de versement d'une avance fixées à {article} : aucune "
                   f"avance n'est versée.")]
    base = {"accord_cadre_bons_commande": " de chaque bon de commande qui en remplit les conditions",
            "accord_cadre_marches_subsequents": " de chaque marché subséquent"}.get(ctx["forme"], "")
    filiere = " (contrat de filière BTP)" if lot.get("avance_filiere_btp") else ""
    if not base and lot.get("avance_base_reduite"):  # base autre que le montant initial (catalogue, R2191-7)
        calcul = f", calculée dans les conditions fixées à {article},"
        if lot["avance_taux_pme"] == lot["avance_taux_non_pme"]:
            taux = (f"Une avance de {pourcent(lot['avance_taux_pme'])}{filiere}{calcul} est versée, que le titulaire "
                    "soit ou non une petite ou moyenne entreprise.")
        else:
            taux = (f"Une avance{calcul} est versée au taux de {pourcent(lot['avance_taux_pme'])} si le titulaire est "
                    f"une petite ou moyenne entreprise{filiere}, au taux de {pourcent(lot['avance_taux_non_pme'])} "
                    "dans les autres cas.")
        return [_p(taux), _renonciation()]
    base = base or " initial"
    if lot["avance_taux_pme"] == lot["avance_taux_non_pme"]:
        taux = (f"Une avance de {pourcent(lot['avance_taux_pme'])}{filiere} est versée sur le montant{base}, dans les "
                f"conditions fixées à {article}, que le titulaire soit ou non une petite ou moyenne entreprise.")
    else:
        taux = (f"Une avance est versée sur le montant{base}, dans les conditions fixées à {article} : au taux de "
                f"{pourcent(lot['avance_taux_pme'])} si le titulaire est une petite ou moyenne entreprise{filiere}, au "
                f"taux de {pourcent(lot['avance_taux_non_pme'])} dans les autres cas.")
    return [_p(taux), _renonciation()]


def _renonciation() -> Bloc:
    """Case de renonciation à l'avance (CCP R2191-5)."""
    return _p(Segment(f"{CASE} Je renonce au bénéfice de l'avance", gras=True),
              Segment(" (article R2191-5 du code de la commande publique). Sans case cochée, l'avance est versée. "
                      "En cas de groupement, le membre qui y renonce est désigné ici : " + A_COMPLETER))
