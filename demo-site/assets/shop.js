/* Lumen & Loom's own storefront script: a cart in localStorage, rendered on the cart page.
   It tells Orbita about the cart through the documented global function: orbita('cart', ...). */
(function () {
  var KEY = 'lumen-cart';
  function load() { try { return JSON.parse(localStorage.getItem(KEY)) || []; } catch (e) { return []; } }
  function money(v) { return new Intl.NumberFormat('en-IE', { style: 'currency', currency: 'EUR' }).format(v); }
  function total(lines) { return lines.reduce(function (s, l) { return s + l.price * l.quantity; }, 0); }
  function snapshot(lines) {
    return {
      products: lines.map(function (l) { return { product_id: l.id, name: l.name, price: l.price, quantity: l.quantity }; }),
      value: Math.round(total(lines) * 100) / 100, currency: 'EUR'
    };
  }
  function save(lines) {
    localStorage.setItem(KEY, JSON.stringify(lines));
    orbita('cart', snapshot(lines));
    badge();
  }
  function badge() {
    var n = load().reduce(function (s, l) { return s + l.quantity; }, 0);
    document.querySelectorAll('.cart-link .count').forEach(function (el) { el.textContent = n; });
  }
  function add(item) {
    var lines = load(), found = lines.find(function (l) { return l.id === item.id; });
    if (found) found.quantity += 1; else lines.push({ id: item.id, name: item.name, price: item.price, image: item.image, url: item.url, quantity: 1 });
    save(lines);
  }
  function renderCart() {
    var body = document.getElementById('cart-lines');
    if (!body) return;
    var lines = load();
    body.textContent = '';
    lines.forEach(function (l) {
      var tr = document.createElement('tr');
      tr.innerHTML = '<td><img alt=""></td><td><a></a></td><td class="qty"><button data-d="-1" aria-label="Fewer">−</button> <span></span> <button data-d="1" aria-label="More">+</button></td><td class="price"></td>';
      tr.querySelector('img').src = l.image;
      var a = tr.querySelector('a'); a.href = l.url; a.textContent = l.name;
      tr.querySelector('.qty span').textContent = l.quantity;
      tr.querySelector('td.price').textContent = money(l.price * l.quantity);
      tr.querySelectorAll('button').forEach(function (b) {
        b.addEventListener('click', function () {
          var all = load(), line = all.find(function (x) { return x.id === l.id; });
          line.quantity += Number(b.dataset.d);
          save(all.filter(function (x) { return x.quantity > 0; }));
          renderCart();
        });
      });
      body.appendChild(tr);
    });
    document.getElementById('cart-total').textContent = money(total(lines));
    /* The recommendation block below asks for products that go with this cart. */
    var reco = document.querySelector('[data-orbita-placement="cart"]');
    if (reco) reco.setAttribute('data-orbita-cart', lines.map(function (l) { return l.id; }).join(','));
    document.getElementById('cart-empty').hidden = lines.length > 0;
    document.getElementById('checkout').disabled = lines.length === 0;
  }
  function checkout() {
    var lines = load();
    if (!lines.length) return;
    var order = { order_id: 'LL-' + Date.now().toString(36).toUpperCase(), total: Math.round(total(lines) * 100) / 100, currency: 'EUR',
      products: snapshot(lines).products };
    sessionStorage.setItem('lumen-order', JSON.stringify(order));
    localStorage.removeItem(KEY);
    location.href = '/thank-you';
  }
  function thankYou() {
    var el = document.getElementById('order-id');
    if (!el) return;
    var order = JSON.parse(sessionStorage.getItem('lumen-order') || 'null');
    if (!order) { el.textContent = '—'; return; }
    el.textContent = order.order_id;
    document.getElementById('order-total').textContent = money(order.total);
    if (!order.reported) {
      orbita('purchase', order);
      orbita('cart', snapshot([]));
      order.reported = true;
      sessionStorage.setItem('lumen-order', JSON.stringify(order));
    }
  }
  document.addEventListener('DOMContentLoaded', function () {
    badge();
    document.querySelectorAll('[data-add-to-cart]').forEach(function (b) {
      b.addEventListener('click', function () {
        add(JSON.parse(b.dataset.addToCart));
        b.textContent = 'Added ✓';
        setTimeout(function () { b.textContent = 'Add to cart'; }, 1500);
      });
    });
    var c = document.getElementById('checkout');
    if (c) c.addEventListener('click', checkout);
    renderCart();
    thankYou();
  });
})();
