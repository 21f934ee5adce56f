# The application's next migration, applied to PostgreSQL after the cutover.
class AddSku < ActiveRecord::Migration[6.1]
  def change
    add_column :items, :sku, :string, null: false, default: ""
    add_index :items, :sku
    remove_index :tenants, :slug
    change_column_null :items, :body, false, ""
  end
end
