// The order page's card payment with Stripe.js: the card field is Stripe's, the card becomes a token at
// Stripe, and only the token is sent to the hub, which asks Stripe to take the payment. The order turns
// paid when Stripe's webhook reaches the hub, so after paying the page asks the hub until it has.
(function () {
  const form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") return;
  const stripe = Stripe(form.dataset.key);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const message = document.getElementById("card-message");
  const button = document.getElementById("pay");

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
    message.classList.toggle("flash", Boolean(text));
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Until the order is no longer pending (paid, or closed meanwhile): then the page shows it as it is.
  async function waitForOrder(interval) {
    for (;;) {
      try {
        const response = await fetch(form.dataset.statusUrl, { cache: "no-store" });
        if (response.ok && (await response.json()).status !== "pending") {
          window.location.reload();
          return;
        }
      } catch (err) {
        // offline for a moment: ask again
      }
      await sleep(interval);
    }
  }

  async function pay() {
    const made = await stripe.createToken(card);
    if (made.error) return (made.error.message || "Check the card details.");
    const response = await fetch(form.dataset.payUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
      body: JSON.stringify({ token: made.token.id }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) return (answer.error && answer.error.message) || "The payment did not go through.";
    if (answer.status === "requires_action") {
      const done = await stripe.confirmCardPayment(answer.client_secret); // 3-D Secure with the bank
      if (done.error) return done.error.message || "The bank did not confirm the payment.";
    }
    return null;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    show("");
    let problem;
    try {
      problem = await pay();
    } catch (err) {
      problem = "The payment could not be sent; check your connection and try again.";
    }
    if (problem) {
      show(problem + " Nothing was charged; your seats stay reserved.");
      button.disabled = false;
      return;
    }
    show("Payment sent. Waiting for the confirmation…");
    waitForOrder(1000);
  });
  waitForOrder(5000); // a payment made in another tab, or confirmed late, shows up here too
})();
