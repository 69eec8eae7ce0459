"""A quiet book on a live, gap-free connection is current; a stale or invalid one is not."""
from arb.book import KalshiBook, Liveness, PolyBook
from arb.domain import Outcome
from arb.money import parse_price as P
from arb.money import parse_qty as Q


def test_current_as_of_follows_the_connection_not_only_the_book():
    live = Liveness()
    book = KalshiBook("T", no_in_yes_prices=False, liveness=live)
    book.apply_snapshot([(P("0.40"), Q("10"))], [(P("0.55"), Q("5"))], received_at=10.0)
    assert book.current_as_of() == 10.0
    live.last_data = 25.0           # another market's delta arrived on the same gap-free sid
    assert book.current_as_of() == 25.0
    book.apply_delta(Outcome.YES, P("0.40"), Q("1"), received_at=30.0)
    assert book.current_as_of() == 30.0


def test_a_book_nobody_vouches_for_ages_from_its_own_updates():
    book = PolyBook("tok", tick=P("0.01"), min_order_size=Q("5"))
    book.apply_snapshot([(P("0.40"), Q("10"))], [(P("0.45"), Q("10"))], received_at=3.0)
    assert book.current_as_of() == 3.0
