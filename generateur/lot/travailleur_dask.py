"""Préchargement d'un travailleur Dask (`dask worker --preload generateur.lot.travailleur_dask`, ou le réglage
`distributed.worker.preload` de `regeneration.REGLAGES_DASK`) : au démarrage du travailleur, avant qu'il s'inscrive
auprès de l'ordonnanceur, en fait un processus de calcul (`cache.devenir_travailleur` : il lit les mémoires partagées
sans les écrire, comme un processus de calcul local), importe le code des consultations, fait la chauffe d'un lot
(`regeneration.chauffer`) pour le catalogue de cette installation (`$DCE_RACINE`, sinon celui du paquet) et gèle pour
le ramasse-miettes ce qui existe alors (modules, catalogue, Dask : ils vivent autant que le travailleur).

Sans lui, le premier lot d'un cluster neuf fait cette chauffe dans les tâches de chaque travailleur (≈ 0,1 à 0,2 s de
calcul par travailleur, mesuré) ; les processus de calcul locaux en héritent du processus principal (fork). Un lot sur
un autre catalogue que celui de l'installation le charge à sa première consultation, comme avant. Une machine de
calcul où `dce` n'est pas installé refuse de démarrer son travailleur (module introuvable) au lieu de mettre chaque
consultation du lot en échec."""

from __future__ import annotations

import gc
from typing import Any

from ..donnees import cache, catalogue
from .regeneration import chauffer


def dask_setup(travailleur: Any) -> None:
    """Appelé par Dask au démarrage du travailleur (`travailleur` : `distributed.Worker`, inutilisé)."""
    cache.devenir_travailleur()
    chauffer(catalogue.resoudre_racine())
    gc.collect()
    gc.freeze()
