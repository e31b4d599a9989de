"""Commande `dce regenerer` : régénère un dossier de consultations après un changement du catalogue."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from .groupe import main
from ..erreurs import ErreurDCE


def _accord(n: int, mot: str) -> str:
    """« 0 nouvelle », « 1 clause », « 2 clauses » : le pluriel à partir de deux."""
    return f"{n} {mot if n <= 1 else mot + 's'}"


@main.command("regenerer")
@click.argument("dossier", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Nombre de processus de calcul. Défaut : nombre de cœurs de la machine ; avec --dask, nombre de "
                   "fils de calcul du cluster (défaut : ceux qu'il compte au lancement), qui règle la taille des "
                   "tâches.")
@click.option("--simulation", is_flag=True,
              help="N'écrit que le rapport (synthèse et modifications suivies) : aucune consultation ne change.")
@click.option("--seulement-impactees", "seulement_impactees", is_flag=True,
              help="Ne régénère que les consultations dont le manifeste montre une clause, une règle, un paramètre "
                   "ou un modèle modifié depuis leur dernière génération.")
@click.option("--dask", "adresse_dask", metavar="ADRESSE",
              help="Répartit le lot sur un cluster Dask distributed (ex. tcp://ordonnanceur:8786) ; dossier et "
                   "catalogue doivent être visibles des machines de calcul.")
@click.option("--base", "url", metavar="URL",
              help="Régénérer les consultations de la base du serveur d'équipe (au lieu d'un DOSSIER) ; les "
                   "nouvelles versions y sont enregistrées.")
@click.option("--stockage", type=click.Path(file_okay=False, path_type=Path), default=Path("equipe"),
              show_default=True, help="Avec --base : dossier des pièces du serveur d'équipe.")
@click.pass_context
def regenerer(ctx: click.Context, dossier: Path | None, jobs: int | None, simulation: bool, seulement_impactees: bool,
              adresse_dask: str | None, url: str | None, stockage: Path) -> None:
    """Régénère chaque consultation de DOSSIER (un sous-dossier par consultation, avec son reponses.yaml) avec le
    catalogue actuel. La version précédente est conservée ; un rapport dit ce qui a changé et pourquoi.
    Code de sortie 1 si une consultation a échoué."""
    from ..lot.rapport_changements import A_JOUR, MODIFIEE, NON_CONCERNEE, NOUVELLE
    from ..lot.regeneration import regenerer as regenerer_lot

    if (dossier is None) == (url is None):
        raise click.UsageError("donner soit un DOSSIER de consultations, soit --base URL")
    with ExitStack() as pile:
        if url is not None:
            from .commandes_equipe import dossier_de_la_base

            dossier = pile.enter_context(dossier_de_la_base(url, stockage, ctx.obj["racine"]))
        executeur = None
        if adresse_dask:
            try:
                from distributed import Client
            except ImportError:
                raise ErreurDCE("l'option --dask demande le paquet distributed : pip install 'dce[dask]'") from None
            client = pile.enter_context(Client(adresse_dask))
            executeur = client.get_executor()
            jobs = jobs or sum(client.nthreads().values()) or None  # taille des tâches (`groupes`)
        bilan = regenerer_lot(dossier, ctx.obj["racine"], jobs, executeur, simulation, seulement_impactees,
                              progression=None)

    n = len(bilan.consultations)
    click.echo(f"{_accord(n, 'consultation')} en {bilan.duree:.1f} s : "
               f"{_accord(len(bilan.avec_statut(MODIFIEE)), 'modifiée')}, "
               f"{_accord(len(bilan.avec_statut(NOUVELLE)), 'nouvelle')}, {len(bilan.avec_statut(A_JOUR))} à jour, "
               f"{_accord(len(bilan.avec_statut(NON_CONCERNEE)), 'non concernée')}, {len(bilan.echecs)} en échec.")
    for r in bilan.consultations:
        versions = " → ".join(v for v in (r.version_precedente, r.nouvelle_version) if v)
        if r.statut == NOUVELLE:
            detail = "nouvelle consultation" + (f", version {versions}" if versions else "")
        elif r.statut == MODIFIEE:
            pieces = r.pieces_sans_changement_de_clause
            if pieces:
                pluriel = "s" if len(pieces) > 1 else ""
                quoi = f"pièce{pluriel} {', '.join(pieces)} modifiée{pluriel} : {' ; '.join(r.causes)}"
            else:
                total = len(r.clauses) + len(r.valeurs)
                quoi = (f"{_accord(len(r.clauses), 'clause')} et {_accord(len(r.valeurs), 'valeur')} "
                        f"{'modifiées' if total > 1 else 'modifiée'}")
            detail = f"version {versions}, {quoi}"
        else:
            continue
        click.echo(f"  {r.dossier} : {detail}" + (" (simulation)" if simulation else ""))
    if simulation:
        click.echo("Simulation : aucune consultation n'a été modifiée.")
    click.echo(f"Rapport : {bilan.fichiers['synthese.docx']}")
    click.echo(f"          {bilan.fichiers['synthese.csv']}")
    if any(r.redline for r in bilan.consultations):
        click.echo(f"Modifications suivies des clauses : {bilan.dossier_rapport / 'modifications'}")
    if bilan.echecs:
        click.secho(f"Échecs ({len(bilan.echecs)}) :", fg="red", err=True)
        for r in bilan.echecs:
            click.echo(f"  - {r.dossier} : {r.erreur}", err=True)
        ctx.exit(1)
