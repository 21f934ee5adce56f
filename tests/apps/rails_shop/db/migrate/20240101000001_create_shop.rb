# The shop's schema, as Rails' own migrations make it (on SQLite, then on PostgreSQL).
class CreateShop < ActiveRecord::Migration[6.1]
  def change
    create_table :tenants do |t|
      t.string :name, null: false
      t.string :slug, null: false
      t.boolean :active, null: false, default: true
      t.json :settings
      t.timestamps
    end
    add_index :tenants, :slug, unique: true

    create_table :items do |t|
      t.references :tenant, null: false, foreign_key: true
      t.string :title, limit: 40, null: false
      t.text :body
      t.decimal :price, precision: 10, scale: 2
      t.float :weight
      t.integer :qty, null: false, default: 0
      t.bigint :views
      t.integer :status, null: false, default: 0
      t.time :opens_at
      t.date :released_on
      t.datetime :published_at, precision: 6
      t.binary :payload
      t.json :tags
      t.boolean :featured
      t.timestamps
    end
    add_index :items, [:tenant_id, :title], unique: true
  end
end
