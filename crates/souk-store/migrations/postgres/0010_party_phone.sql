-- A party's mobile phone, for products that create the buyer's account from it (KooGallery
-- newInstance `mobilePhone`, sent AES-encrypted).
ALTER TABLE parties ADD COLUMN mobile_phone TEXT;
