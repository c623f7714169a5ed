"""The Recovery tab's repair box: the amount of play to record for one interrupted session.

It shows the session and what the log proves, an amount between the bounds (a time edit and
a slider kept in step; the lower bound by default, shown in minutes and seconds), the day it
will be credited to in words, and "also start the policy's cooldown" where the policy gives
the entry one. It writes nothing itself: `repairRequested` asks the tab to (see
`RecoveryTab.repair_finding`). A live update of the same finding keeps the amount chosen.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from shepherd_store.policy import Policy
from shepherd_store.recovery import RecoveryFinding
from shepherd_store.timefmt import local_now

from .cooldown_tab import read_only_tip
from .formatting import format_local, format_local_time, short_id
from .recovery_logic import (
    amount_text,
    cooldown_until,
    cooldown_why_not,
    credit_day,
    day_words,
    policy_cooldown,
    repair_bounds,
)
from .recovery_models import ElidingLabel
from .widgets import plain_label, set_control

MAX_QTIME = 86399  # a QTimeEdit shows at most 23:59:59
BUTTON_TIP = ("Add the amount to the usage of the day credited (you see exactly what will be "
              "written and confirm first) (Alt+R)")
COOLDOWN_TIP = "Also set the cooldown the service would have set when the session ended"
COOLDOWN_TEXT = "Also start the policy's &cooldown"


def _qtime(seconds: int) -> QTime:
    return QTime(0, 0).addSecs(int(seconds))


class RepairPanel(QGroupBox):
    """The repair of one interrupted session (see the module's docstring)."""

    repairRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Repair the interrupted session", parent)
        self.setObjectName("repairBox")
        self.setFixedWidth(440)
        self.finding: RecoveryFinding | None = None
        self.policy: Policy | None = None
        self._syncing = False
        layout = QVBoxLayout(self)
        layout.setSpacing(4)

        def line(name: str, accessible: str) -> ElidingLabel:
            label = ElidingLabel(self)
            label.setObjectName(name)
            label.setAccessibleName(accessible)
            layout.addWidget(label)
            return label

        self.session = line("repairSession", "Session to repair")
        self.bounds = line("repairBounds", "What the log proves")
        row = QHBoxLayout()
        caption = self.amount_caption = QLabel("&Amount:", self)
        self.amount_edit = QTimeEdit(self)
        set_control(self.amount_edit, "repairAmount",
                    "How much play to record (hours:minutes:seconds), between the bounds the "
                    "log proves", "Amount of play")
        self.amount_edit.setDisplayFormat("H:mm:ss")
        self.amount_edit.timeChanged.connect(self._on_edit)
        caption.setBuddy(self.amount_edit)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        set_control(self.slider, "repairSlider",
                    "Drag between the lower bound (certain) and the upper bound (the most the "
                    "log allows)", "Amount of play")
        self.slider.setPageStep(60)
        self.slider.valueChanged.connect(self._on_slider)
        row.addWidget(caption)
        row.addWidget(self.amount_edit)
        row.addWidget(self.slider, 1)
        layout.addLayout(row)
        self.amount_text = line("repairAmountText", "Amount in minutes and seconds")
        self.day = line("repairDay", "Day credited")
        self.cooldown = QCheckBox(COOLDOWN_TEXT, self)
        set_control(self.cooldown, "repairCooldown", COOLDOWN_TIP,
                    "Also start the policy's cooldown")
        self.cooldown.toggled.connect(self._show_words)
        layout.addWidget(self.cooldown)
        layout.addStretch(1)
        self.status = plain_label(self, "repairStatus")
        self.status.setAccessibleName("Repair status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.button = QPushButton("&Repair this session…", self)
        set_control(self.button, "repairButton", BUTTON_TIP, "Repair this session")
        self.button.clicked.connect(self.repairRequested.emit)
        layout.addWidget(self.button)
        self.show_finding(None, "", None, None)

    # --- what it shows ---------------------------------------------------------------------

    def show_finding(self, finding: RecoveryFinding | None, none_text: str,
                     policy: Policy | None, read_only: str | None) -> None:
        """Show `finding` (an `interrupted_session` one; None: `none_text`), for `policy`,
        with editing disabled for the reason `read_only` (None: writable)."""
        old, self.finding, self.policy = self.finding, finding, policy
        f = finding
        if f is None:
            self.session.setText(none_text)
            self.bounds.setText("")
        else:
            started = format_local(f.started_at) if f.started_at else "an unreadable time"
            self.session.setText(f"{f.label or f.entry_id}, started {started} "
                                 f"(session {short_id(f.session_id)})")
            low = amount_text(f.min_seconds or 0)
            if f.resolved:
                self.bounds.setText("✔ Repaired: its play was recorded.")
            elif f.max_seconds is not None:
                self.bounds.setText(f"The log proves {low} to {amount_text(f.max_seconds)}.")
            else:
                self.bounds.setText(f"The log proves at least {low} (no upper bound).")
        if f is None or f.resolved or old is None or f.session_id != old.session_id or (
                f.min_seconds, f.max_seconds) != (old.min_seconds, old.max_seconds):
            self._reset(f)
        editable = f is not None and not f.resolved and f.fix == "repair"
        for w in (self.amount_caption, self.amount_edit, self.slider, self.amount_text,
                  self.cooldown):
            # A repaired session shows what was recorded, not an amount to choose.
            w.setVisible(f is not None and not f.resolved)
            w.setEnabled(editable)
        why_not = cooldown_why_not(policy, f)
        self.cooldown.setEnabled(editable and why_not is None)
        if why_not is not None:
            self.cooldown.setChecked(False)
        self.cooldown.setToolTip(COOLDOWN_TIP if why_not is None else
                                 f"{COOLDOWN_TIP}\n\n{why_not}")
        if f is not None and f.resolved:
            on, why = False, f"Already repaired. {f.action}"
        elif read_only is not None:
            on, why = False, read_only_tip(read_only)
        elif not editable:
            on, why = False, "Select an interrupted session first (in the findings or the " \
                             "timeline)."
        else:
            on, why = True, ""
        self.button.setEnabled(on)
        self.button.setToolTip(f"{BUTTON_TIP}\n\n{why}" if why else BUTTON_TIP)
        self._show_words()

    def _reset(self, f: RecoveryFinding | None) -> None:
        """The amount at the lower bound (the play the log proves) of `f`."""
        low, high, _unbounded = repair_bounds(f, local_now()) if f is not None else (0, 0, False)
        low, high = min(low, MAX_QTIME), min(high, MAX_QTIME)
        self._syncing = True
        try:
            self.amount_edit.setTimeRange(_qtime(low), _qtime(high))
            self.amount_edit.setTime(_qtime(low))
            self.slider.setRange(low, high)
            self.slider.setValue(low)
        finally:
            self._syncing = False

    def amount(self) -> int:
        """The amount of play to record, in seconds."""
        return int(QTime(0, 0).secsTo(self.amount_edit.time()))

    def set_amount(self, seconds: int) -> None:
        """Set the amount (kept between the bounds)."""
        self.amount_edit.setTime(_qtime(seconds))

    def wants_cooldown(self) -> bool:
        return self.cooldown.isChecked() and self.cooldown.isEnabled()

    def _on_edit(self, _time: QTime) -> None:
        if not self._syncing:
            self._syncing = True
            try:
                self.slider.setValue(self.amount())
            finally:
                self._syncing = False
        self._show_words()

    def _on_slider(self, value: int) -> None:
        if not self._syncing:
            self._syncing = True
            try:
                self.amount_edit.setTime(_qtime(value))
            finally:
                self._syncing = False
        self._show_words()

    def _show_words(self, *_args: object) -> None:
        """The amount in minutes and seconds, the day in words, the cooldown's end."""
        f = self.finding
        if f is None:
            self.amount_text.setText("")
            self.day.setText("")
            self.cooldown.setText(COOLDOWN_TEXT)
            return
        now = local_now()
        seconds = self.amount()
        low, high, unbounded = repair_bounds(f, now)
        where = ("the lower bound: certain" if seconds == low else
                 "the upper bound" if seconds == high and not unbounded else "")
        self.amount_text.setText(f"= {amount_text(seconds)}" + (f" ({where})" if where else ""))
        day = credit_day(f, seconds)
        if f.resolved:
            self.day.setText(f.action)
        elif day is not None:
            self.day.setText(f"Credited to {day_words(day)}, the day it would have ended")
        else:
            self.day.setText("")
        cooldown = policy_cooldown(self.policy, f.entry_id)
        text = COOLDOWN_TEXT
        if cooldown is not None:
            until = cooldown_until(f, seconds, cooldown)
            if until is not None:
                over = " (over)" if until <= now else ""
                text += f": {amount_text(cooldown)}, until {format_local_time(until)}{over}"
        self.cooldown.setText(text)
