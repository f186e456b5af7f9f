"""What a person can click: the embeddable widget (`/widget.js`), the hosted form page (`/f/{form_id}`), the
dashboard (`/dashboard`) and its aggregate endpoint (`/stats`), with their static assets in this folder."""
