"""The static view of ``lrfinder._lightning.EITHER``: the classes of either Lightning distribution.

At run time the modules bind their annotations' ``either`` to ``_lightning.EITHER``, whose
``Trainer`` is the union of the installed distributions' ``Trainer`` classes. Type checkers read
this stub instead, so that the public signatures (``LRFinder``'s hooks and base class,
``find_lr``, ``train``) take ``lightning.pytorch`` and ``pytorch_lightning`` objects alike, as the
code does. The code behind them is checked against ``pytorch_lightning``'s API (``pl``), which
``lightning.pytorch`` shares name for name.
"""

from typing import TypeAlias

import lightning.pytorch as _lp
import pytorch_lightning as _pl

Trainer: TypeAlias = _lp.Trainer | _pl.Trainer
LightningModule: TypeAlias = _lp.LightningModule | _pl.LightningModule
LightningDataModule: TypeAlias = _lp.LightningDataModule | _pl.LightningDataModule
Callback: TypeAlias = _lp.Callback | _pl.Callback

# Both Callback classes, as _lightning.callback_base() builds it. The two bases' hooks differ only in
# which distribution's Trainer and module they name, which mypy reports as incompatible definitions.
class CallbackBase(_pl.Callback, _lp.Callback):  # type: ignore[misc]
    """A ``Callback`` of both distributions, which either one's ``Trainer(callbacks=[...])`` takes."""
