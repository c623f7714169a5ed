"""A tab widget whose pages are built the first time they are shown or asked for.

The window opens on one tab; building the others (the usage chart, the recovery timeline,
the cooldown editor) and running their start-up reads before the first page is painted
cost more than the page itself. A lazy page is an empty holder until then; `widget`,
`currentWidget`, `indexOf` and `setCurrentWidget` speak of the real page (building it when
asked for), so callers never see the holder.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

Factory = Callable[[QWidget], QWidget]


class LazyTabs(QTabWidget):
    """QTabWidget with pages built on first show (`add_lazy`) beside ordinary ones."""

    built = Signal(QWidget)  # a lazy page was just built (the real page)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factories: dict[QWidget, Factory] = {}  # holder -> how to build its page
        self._pages: dict[QWidget, QWidget] = {}  # holder -> its built page
        self.currentChanged.connect(self._build_index)

    def add_page(self, page: QWidget, title: str, tip: str) -> int:
        """An ordinary tab, built already."""
        index = self.addTab(page, title)
        self.setTabToolTip(index, tip)
        return index

    def add_lazy(self, factory: Factory, title: str, tip: str) -> int:
        """A tab whose page `factory(holder)` is built the first time it is needed."""
        holder = QWidget(self)
        holder.setObjectName(f"lazyTab{self.count()}")
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        self._factories[holder] = factory
        index = self.add_page(holder, title, tip)
        if self.currentIndex() == index:  # the first tab added is current at once
            self._build(holder)
        return index

    def is_built(self, index: int) -> bool:
        """Whether tab `index` has its real page (ordinary tabs always have)."""
        holder = super().widget(index)
        return holder not in self._factories or holder in self._pages

    def built_pages(self) -> list[QWidget]:
        """Every real page that exists now, in tab order (lazy ones not yet built left out)."""
        pages = []
        for i in range(self.count()):
            if self.is_built(i):
                pages.append(self.widget(i))
        return pages

    def _build_index(self, index: int) -> None:
        holder = super().widget(index)
        if holder is not None and holder in self._factories:
            self._build(holder)

    def _build(self, holder: QWidget) -> QWidget:
        page = self._pages.get(holder)
        if page is None:
            page = self._factories[holder](holder)
            self._pages[holder] = page
            holder.layout().addWidget(page)
            self.built.emit(page)
        return page

    # --- the real pages, never the holders -----------------------------------------------

    def widget(self, index: int) -> QWidget:  # type: ignore[override]
        holder = super().widget(index)
        if holder is not None and holder in self._factories:
            return self._build(holder)
        return holder

    def currentWidget(self) -> QWidget:  # type: ignore[override]
        return self.widget(self.currentIndex())

    def indexOf(self, page: QWidget) -> int:  # type: ignore[override]
        for holder, built in self._pages.items():
            if built is page:
                return super().indexOf(holder)
        return super().indexOf(page)

    def setCurrentWidget(self, page: QWidget) -> None:  # type: ignore[override]
        index = self.indexOf(page)
        if index >= 0:
            self.setCurrentIndex(index)
