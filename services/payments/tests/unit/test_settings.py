from payments.settings import Settings


def test_stripe_base_defaults_to_stripe_mock(monkeypatch):
    monkeypatch.delenv("CALLASTAR_STRIPE_API_BASE", raising=False)
    assert Settings().stripe_api_base == "http://127.0.0.1:12111"


def test_an_empty_stripe_base_means_the_real_stripe(monkeypatch):
    monkeypatch.setenv("CALLASTAR_STRIPE_API_BASE", "")
    assert Settings().stripe_api_base is None


def test_stripe_settings_are_read_without_the_service_prefix(monkeypatch):
    monkeypatch.setenv("CALLASTAR_STRIPE_API_KEY", "sk_test_other")
    monkeypatch.setenv("CALLASTAR_PAYMENTS_CREATOR_SHARE_BPS", "9000")
    settings = Settings()
    assert (settings.stripe_api_key, settings.creator_share_bps) == ("sk_test_other", 9000)
